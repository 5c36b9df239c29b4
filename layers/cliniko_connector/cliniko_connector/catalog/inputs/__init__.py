"""Action input models, one module per resource group: an action function imports only its own
(`Action.input_model`)."""
