"""Local passwords of bootstrap admins (argon2id)."""
