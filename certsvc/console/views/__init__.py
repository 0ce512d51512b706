"""The console's blueprints, one per feature."""
