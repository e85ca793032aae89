"""Accounts and tokens."""
from flask import Blueprint
from flask_jwt_extended import create_access_token, create_refresh_token, current_user, jwt_required

from app import ratelimit
from app.blueprints import endpoint
from app.errors import APIError
from app.schemas.users import (
    AccessTokenSchema,
    LoginSchema,
    MeSchema,
    ProfileUpdateSchema,
    RegisterSchema,
    SuspendedSchema,
    TokenPairSchema,
)
from app.services import users

bp = Blueprint("auth", __name__, url_prefix="/auth")


def token_pair(user):
    return {"user": user, "access_token": create_access_token(identity=user.id),
            "refresh_token": create_refresh_token(identity=user.id)}


@bp.post("/register")
@endpoint("Create an account", body=RegisterSchema, response=TokenPairSchema, status=201, public=True)
def register(data):
    return token_pair(users.create_user(**data))


@bp.post("/login")
@endpoint("Log in", body=LoginSchema, response=TokenPairSchema, public=True, errors=(401,),
          extra_responses=((403, "The account is suspended (`This account is suspended.`), until "
                                 "`suspended_until` (null: for good).", SuspendedSchema),),
          description="Wrong credentials: 401 `No active account found with the given credentials`. "
                      "Limited per client IP, and failed attempts per email (429 with Retry-After).")
def login(data):
    email = users.normalize_email(data["email"])
    ratelimit.check_login(email)
    try:
        return token_pair(users.authenticate(email, data["password"]))
    except APIError as err:
        if err.status == 401:
            ratelimit.login_failed(email)
        raise


@bp.post("/refresh")
@endpoint("A new access token", response=AccessTokenSchema,
          description="Takes the **refresh** token (not an access token) as the bearer token.")
@jwt_required(refresh=True)
def refresh():
    return {"access_token": create_access_token(identity=current_user.id)}


@bp.get("/me")
@endpoint("The caller", response=MeSchema)
@jwt_required()
def me():
    return current_user


@bp.route("/me", methods=["PATCH", "PUT"])
@jwt_required()  # before the body is read: no token, no validation answer (and no upload received)
@endpoint("Update the caller's profile", body=ProfileUpdateSchema, form=True, response=MeSchema,
          description="`profile_photo` is an image file (multipart), cleaned of its metadata before it is "
                      "stored; `profile_photo: null` clears it.")
def update_me(data):
    photo = data.get("profile_photo")
    return users.update_profile(current_user, display_name=data.get("display_name"), photo_upload=photo,
                                clear_photo="profile_photo" in data and photo is None)
