"""Accounts: users, password hashing, access tokens."""
