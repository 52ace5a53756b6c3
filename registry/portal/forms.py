"""Flask-WTF forms of the account pages (the certificate forms follow the API's own schema)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = StringField(_l("Email address"), validators=[DataRequired(_l("Enter your email address."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])
    code = StringField(_l("One-time code"), validators=[DataRequired(
        _l("Enter the 6-digit code from your authenticator app, or a recovery code."))])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])
    new = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password of at least 12 characters.")),
        Length(min=12, message=_l("Enter a new password of at least 12 characters."))])


class RecoveryForm(FlaskForm):
    password = PasswordField(_l("Current password"))


class AcceptInviteForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password of at least 12 characters.")),
        Length(min=12, message=_l("Enter a new password of at least 12 characters."))])
    code = StringField(_l("One-time code"))


def form_errors(form: FlaskForm, prefix: str = "") -> dict[str, list[str]]:
    """WTForms errors keyed by the input's id (the error summary links to it)."""
    return {f"{prefix}{name}": [str(m) for m in messages] for name, messages in form.errors.items()
            if name != "csrf_token"}
