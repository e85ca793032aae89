"""``flask users ...``: accounts from the command line (admins are made only here);
``flask moderation ...``: the moderators' actions (logged with no actor: the command line)."""
import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from app.errors import APIError
from app.schemas.moderation import SuspendSchema
from app.schemas.users import RegisterSchema
from app.services import moderation as moderation_service
from app.services import users as user_service

users = AppGroup("users", help="Manage user accounts.")
moderation = AppGroup("moderation", help="Moderate content and accounts (each action is logged).")
REASON = click.option("--reason", default=None, help="Why (kept in the moderation log).")


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


def _run(action, *args, **kwargs):
    try:
        return action(None, *args, **kwargs)
    except APIError as err:
        raise click.ClickException(str(err.body.get("detail", err.body))) from None


def _user_id(email_or_id):
    user = user_service.find_by_email(email_or_id) if "@" in email_or_id else user_service.get_user(email_or_id)
    if user is None:
        raise click.ClickException(f"No user {email_or_id}.")
    return user.id


@moderation.command("hide-post")
@click.argument("post_id", type=int)
@REASON
def hide_post(post_id, reason):
    """Hide a post from everyone but its author and admins."""
    _run(moderation_service.set_post_hidden, post_id, True, reason)
    click.echo(f"Post {post_id} is hidden")


@moderation.command("restore-post")
@click.argument("post_id", type=int)
@REASON
def restore_post(post_id, reason):
    """Restore a hidden post."""
    _run(moderation_service.set_post_hidden, post_id, False, reason)
    click.echo(f"Post {post_id} is restored")


@moderation.command("hide-comment")
@click.argument("comment_id", type=int)
@REASON
def hide_comment(comment_id, reason):
    """Hide a comment and its replies."""
    _run(moderation_service.set_comment_hidden, comment_id, True, reason)
    click.echo(f"Comment {comment_id} is hidden")


@moderation.command("restore-comment")
@click.argument("comment_id", type=int)
@REASON
def restore_comment(comment_id, reason):
    """Restore a hidden comment."""
    _run(moderation_service.set_comment_hidden, comment_id, False, reason)
    click.echo(f"Comment {comment_id} is restored")


@moderation.command("dismiss-report")
@click.argument("report_id", type=int)
@REASON
def dismiss_report(report_id, reason):
    """Dismiss a report (and every open one on the same object)."""
    _run(moderation_service.dismiss_report, report_id, reason)
    click.echo(f"Report {report_id} is dismissed")


@moderation.command("suspend")
@click.argument("user")
@click.option("--until", default=None, help="ISO 8601 end (UTC without an offset); omit for good.")
@REASON
def suspend(user, until, reason):
    """Suspend a user (EMAIL or id): tokens revoked, sockets closed, login refused."""
    try:
        until = SuspendSchema().load({"until": until})["until"]
    except ValidationError as err:
        raise click.ClickException(str(err.messages)) from None
    state = _run(moderation_service.suspend, _user_id(user), until, reason)
    click.echo(f"{user} is suspended {'until ' + state['suspended_until'].isoformat() if until else 'for good'}")


@moderation.command("unsuspend")
@click.argument("user")
@REASON
def unsuspend(user, reason):
    """Lift a user's suspension (EMAIL or id)."""
    _run(moderation_service.unsuspend, _user_id(user), reason)
    click.echo(f"{user} is no longer suspended")
