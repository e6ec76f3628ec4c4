"""The hosted UI: login, MFA setup (secret + QR), TOTP challenge, new password, sign-up and confirmation."""

from idp.hosted_ui.routes import router

__all__ = ["router"]
