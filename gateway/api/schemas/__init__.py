"""Request and response models of the HTTP API, one module per resource, each with OpenAPI examples.

These are the public JSON shapes (DESIGN.md, public surfaces); the SQLAlchemy tables live apart in
:mod:`gateway.db.models`. Field names are snake_case; timestamps are Unix seconds (UTC); IMEIs are
answered in their 15-digit form (with the Luhn check digit).
"""
