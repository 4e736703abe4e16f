"""The contract: JSON Schemas generated from the event models, validation, its reports."""
