"""Standard Webhooks signatures, the backoff between attempts, and the destination guard."""

from __future__ import annotations

import base64
import ipaddress
import random

import pytest

from bus.webhooks.guard import Destinations, ForbiddenDestination
from bus.webhooks.retry import RetryPolicy
from bus.webhooks.signing import InvalidSignature, new_secret, sign, signature_header, verify

#: The test vector published with the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_published_standard_webhooks_vector_is_reproduced_exactly() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_a_receiver_verifies_the_vector_and_refuses_a_changed_body_or_an_old_timestamp() -> None:
    verify(VECTOR_SECRET, VECTOR_ID, str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE,
           now=VECTOR_TIMESTAMP + 10)
    with pytest.raises(InvalidSignature):
        verify(VECTOR_SECRET, VECTOR_ID, str(VECTOR_TIMESTAMP), b'{"test": 2432232315}',
               VECTOR_SIGNATURE, now=VECTOR_TIMESTAMP)
    with pytest.raises(InvalidSignature):
        verify(VECTOR_SECRET, VECTOR_ID, str(VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_SIGNATURE,
               now=VECTOR_TIMESTAMP + 301)


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_during_a_rotation_every_live_secret_signs_and_either_one_verifies() -> None:
    old, new = new_secret(), new_secret()
    header = signature_header((new, old), "evt-1", 1700000000, b"{}")
    assert len(header.split()) == 2
    for secret in (old, new):
        verify(secret, "evt-1", "1700000000", b"{}", header, now=1700000000)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), "evt-1", "1700000000", b"{}", header, now=1700000000)


def test_each_wait_lies_between_zero_and_the_doubling_ceiling_capped() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=0.5, cap_seconds=10.0,
                         rng=random.Random(7))
    assert [policy.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    for attempt in range(1, 12):
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0.0 <= d <= policy.ceiling(attempt) for d in delays)
        # full jitter: the waits spread over the whole range, not around its top
        assert min(delays) < policy.ceiling(attempt) * 0.1
        assert max(delays) > policy.ceiling(attempt) * 0.9


def test_the_last_attempt_is_the_max_attempts_th() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.exhausted(n) for n in (1, 2, 3)] == [False, False, True]
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize("url", [
    "ftp://example.org/hook", "file:///etc/passwd", "http://", "https://user:pw@example.org/",
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data", "http://192.168.0.10/", "http://0.0.0.0/",
    "http://224.0.0.1/", "not a url"])
def test_urls_outside_http_or_into_internal_networks_are_refused(url: str) -> None:
    with pytest.raises(ForbiddenDestination):
        Destinations().check_url(url)


def test_public_hosts_pass_and_the_allow_list_opens_named_hosts_and_networks() -> None:
    assert Destinations().check_url("https://app.example.gov.cn/hooks?x=1") == "app.example.gov.cn"
    assert Destinations().check_url("http://8.8.8.8/") == "8.8.8.8"
    allowed = Destinations.parse("127.0.0.1, 10.0.0.0/8,intranet.local")
    assert allowed.check_url("http://127.0.0.1:9000/hook") == "127.0.0.1"
    assert allowed.check_url("http://10.9.8.7/") == "10.9.8.7"
    assert allowed.check_url("http://intranet.local/") == "intranet.local"
    assert allowed.address_allowed(ipaddress.ip_address("10.1.1.1"))
    assert not allowed.address_allowed(ipaddress.ip_address("192.168.1.1"))
    with pytest.raises(ForbiddenDestination):
        allowed.check_url("http://192.168.1.1/")
