"""Result records -> table rows and JSON: one module per command."""
