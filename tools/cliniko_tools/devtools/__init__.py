"""Developer tooling: generators that derive template.yaml and sample events from the catalog.

Nothing here runs in Lambda; the package ships in the layer only because it lives beside the code it reads.
"""
