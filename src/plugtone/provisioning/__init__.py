"""Resolver, identification, render cache and event log shared by every transport."""
