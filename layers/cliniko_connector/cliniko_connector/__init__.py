"""cliniko-connector: poll Cliniko, publish typed events to EventBridge, run Cliniko actions from rules."""

__version__ = "0.1.0"
