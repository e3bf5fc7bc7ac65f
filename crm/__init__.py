"""The domain: capture pipeline, customers and conversations, phone numbers, dashboard metrics."""
