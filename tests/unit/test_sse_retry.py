"""Each SSE connection's ``retry:`` is drawn between the setting and twice it, so that
EventSource clients refused or cut off together do not all come back together."""

from quorum.realtime.sse import jittered_retry


def test_retry_is_spread_between_the_setting_and_twice_it() -> None:
    draws = [jittered_retry(3000) for _ in range(200)]
    assert all(3000 <= d <= 6000 for d in draws)
    assert len(set(draws)) > 100  # spread out, not one value for everyone
    assert min(draws) < 3600 and max(draws) > 5400
