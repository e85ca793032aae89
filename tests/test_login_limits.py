"""Logging in and registering: limited per client IP whatever token the request carries, failed
logins limited per normalized email from any number of addresses (in memory and through
Redis), and an unknown email costs the same password-hash time as a known one."""
import statistics
import time

import pytest

from tests.support.databases import create_database, make_app
from tests.support.factories import UserFactory

PASSWORD = "correct-horse-battery"


def build(tmp_path, **overrides):
    return make_app(create_database("sqlite", tmp_path), tmp_path,
                    **{"RATELIMIT_ENABLED": True, "RATELIMIT_STANDARD": "1000/minute", **overrides})


def from_ip(address):
    return {"REMOTE_ADDR": address}


def test_login_and_register_count_per_ip_whatever_token_they_carry(tmp_path, cheap_password_hashes):
    app = build(tmp_path, RATELIMIT_STANDARD="4/minute")
    make = UserFactory(app)
    people = [make(f"p{n}@example.com", password=PASSWORD) for n in range(6)]
    client = app.test_client()
    # Each request carries another user's valid token: were the token the key, none would be limited.
    for person in people[:2]:
        response = client.post("/auth/login", headers=person.headers, environ_base=from_ip("198.51.100.7"),
                               json={"email": person.email, "password": PASSWORD})
        assert response.status_code == 200
    for n, person in enumerate(people[2:4]):
        response = client.post("/auth/register", headers=person.headers, environ_base=from_ip("198.51.100.7"),
                               json={"email": f"new{n}@example.com", "password": PASSWORD, "display_name": "N"})
        assert response.status_code == 201
    for path in ("/auth/login", "/auth/register"):
        throttled = client.post(path, headers=people[4].headers, environ_base=from_ip("198.51.100.7"),
                                json={"email": people[4].email, "password": PASSWORD, "display_name": "x"})
        assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    # Another address is not affected; the users' own buckets are not either.
    other = client.post("/auth/login", environ_base=from_ip("198.51.100.8"),
                        json={"email": people[5].email, "password": PASSWORD})
    assert other.status_code == 200
    assert client.get("/auth/me", headers=people[0].headers, environ_base=from_ip("198.51.100.7")).status_code == 200


def _failed_logins_are_limited_per_email(app):
    make = UserFactory(app)
    victim = make("victim@example.com", password=PASSWORD)
    make("bystander@example.com", password=PASSWORD)
    client = app.test_client()
    spellings = ["victim@example.com", " Victim@Example.COM ", "VICTIM@example.com"]
    for n in range(3):  # three failures, each from another address and spelling
        response = client.post("/auth/login", environ_base=from_ip(f"203.0.113.{n + 1}"),
                               json={"email": spellings[n], "password": "wrong-password"})
        assert response.status_code == 401
    # The right password, from yet another address: this email has used up its failures.
    blocked = client.post("/auth/login", environ_base=from_ip("203.0.113.99"),
                          json={"email": victim.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json["detail"].startswith("Request was throttled. Expected available in ")
    assert 1 <= int(blocked.headers["Retry-After"]) <= 15 * 60
    # Another email logs in from the very same addresses.
    assert client.post("/auth/login", environ_base=from_ip("203.0.113.1"),
                       json={"email": "bystander@example.com", "password": PASSWORD}).status_code == 200


def test_failed_logins_are_limited_per_normalized_email_from_any_address(tmp_path, cheap_password_hashes):
    _failed_logins_are_limited_per_email(build(tmp_path, RATELIMIT_LOGIN_FAILURES="3 per 15 minutes"))


def test_successful_logins_do_not_count_as_failures(tmp_path, cheap_password_hashes):
    app = build(tmp_path, RATELIMIT_LOGIN_FAILURES="2 per 15 minutes")
    user = UserFactory(app)("ok@example.com", password=PASSWORD)
    client = app.test_client()
    for _ in range(5):
        assert client.post("/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 200


@pytest.mark.redis
def test_failed_logins_are_counted_across_processes_through_redis(tmp_path, redis_slot, cheap_password_hashes):
    database = create_database("sqlite", tmp_path)
    settings = {"RATELIMIT_ENABLED": True, "RATELIMIT_STANDARD": "1000/minute", "REDIS_URL": redis_slot.url,
                "RATELIMIT_LOGIN_FAILURES": "2 per 15 minutes"}
    first, second = make_app(database, tmp_path, **settings), make_app(database, tmp_path, **settings)
    email = f"shared-{time.time_ns()}@example.com"
    UserFactory(first)(email, password=PASSWORD)
    for app in (first, second):
        assert app.test_client().post("/auth/login", json={"email": email, "password": "nope-nope"}).status_code == 401
    assert first.test_client().post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 429


def test_an_unknown_email_costs_the_same_hashing_time_as_a_known_one(tmp_path):
    """With the real (scrypt) hash: the median time of a login to an unknown email is within a
    factor of two of a known email's (a wrong password). Without a dummy hash it would be an
    order of magnitude faster, telling anyone which accounts exist."""
    app = build(tmp_path, RATELIMIT_ENABLED=False)
    with app.app_context():
        from app.services import users

        users.create_user(email="known@example.com", password=PASSWORD, display_name="Known")
    client = app.test_client()

    def median_login(email, rounds=3):
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.post("/auth/login", json={"email": email, "password": "wrong-password"})
            times.append(time.perf_counter() - started)
            assert response.status_code == 401
        return statistics.median(times)

    median_login("warm-up@example.com", rounds=1)  # the dummy account's hash is made once
    known, unknown = median_login("known@example.com"), median_login("nobody@example.com")
    assert known > 0.01  # a real password hash, not a cheap one
    assert 0.5 <= unknown / known <= 2, (known, unknown)
