"""Watches: topic words a person wants to hear about when a newly loaded digest has matching papers."""
