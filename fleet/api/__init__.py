"""Typed models of fleet's custom resources, with validation whose errors name the field path."""
