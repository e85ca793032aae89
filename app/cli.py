"""``flask users ...``: accounts from the command line (admins are made only here)."""
import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from app.errors import APIError
from app.schemas.users import RegisterSchema
from app.services import users as user_service

users = AppGroup("users", help="Manage user accounts.")


@users.command("create")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--display-name", required=True)
@click.option("--admin", is_flag=True, help="Make the user an admin.")
def create(email, password, display_name, admin):
    """Create a user."""
    try:
        data = RegisterSchema().load(
            {"email": email, "password": password, "display_name": display_name})
        user = user_service.create_user(**data, is_admin=admin)
    except ValidationError as err:
        raise click.ClickException(str(err.messages)) from None
    except APIError as err:
        raise click.ClickException(str(err.body)) from None
    click.echo(f"Created {'admin' if admin else 'user'} {user.email} ({user.id})")


@users.command("set-admin")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Take admin rights away instead.")
def set_admin(email, revoke):
    """Give a user admin rights (or take them away with --revoke)."""
    try:
        user = user_service.set_admin(email, not revoke)
    except APIError as err:
        raise click.ClickException(err.body["detail"]) from None
    click.echo(f"{user.email} is {'now' if user.is_admin else 'no longer'} an admin")
