"""Shipped presets, one YAML per dataset (package data). See idealssl.train.config."""
