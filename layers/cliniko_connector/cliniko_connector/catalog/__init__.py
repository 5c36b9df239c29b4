"""The one place triggers and actions are declared. Handlers, template resources, sample events,
schemas and docs are derived from here (see `cliniko_tools.devtools`)."""
