"""Staff accounts of the console: password (argon2), second factor (TOTP), roles, lockout."""
