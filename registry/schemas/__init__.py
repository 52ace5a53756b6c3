"""Marshmallow schemas: ``XxxIn`` loads (unknown fields refused), ``XxxOut`` dumps; one class per audience."""
