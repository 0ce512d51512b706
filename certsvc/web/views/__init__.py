"""The web's blueprints, one per feature."""
