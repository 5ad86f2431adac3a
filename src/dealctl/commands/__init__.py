"""Command modules; each registers its commands on ``dealctl.cli.app``."""
