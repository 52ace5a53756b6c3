"""The operator's dashboard shows the transparency log: its size and the last stored checkpoint."""

from __future__ import annotations

import re

from sqlalchemy import delete

from registry import tlog
from registry.models import TlogCheckpoint

from .conftest import csrf_from, login, make_user


def _dashboard(client) -> str:
    return client.get("/portal/").get_data(as_text=True)


def _panel(page: str) -> str:
    found = re.search(r'<p id="tlog-status">(.*?)</p>', page, re.DOTALL)
    assert found, "no log panel on the dashboard"
    return found.group(1)


def test_operator_dashboard_shows_log_size_and_last_checkpoint(app, session, body):
    user, password, secret = make_user(session, "operator")
    client = app.test_client()
    assert login(client, user.email, password, secret).status_code == 302
    with app.app_context():
        for i in range(3):
            tlog.append(session, "trust-list.published", document=f"panel {i}")
    session.execute(delete(TlogCheckpoint))  # none stored yet (in this test's transaction)
    session.commit()
    panel = _panel(_dashboard(client))
    assert panel.strip().startswith(f"{tlog.size(session)} entries") and "no checkpoint signed yet" in panel
    client.get("/log/checkpoint")  # signs and stores one of the whole log (and makes the log key: an entry)
    size = tlog.size(session)
    panel = _panel(_dashboard(client))
    assert panel.strip().startswith(f"{size} entries")
    assert f"last checkpoint of {size} entries, signed" in panel and 'href="/log/checkpoint"' in panel
    page = _dashboard(client)
    client.post("/portal/language", data={"csrf_token": csrf_from(page), "lang": "zh", "next": "/portal/"})
    panel = _panel(_dashboard(client))
    assert "透明日志" in _dashboard(client) and f"最新检查点包含 {size} 条" in panel


def test_certifiers_see_no_log_panel(signed_in):
    assert 'id="tlog-status"' not in _dashboard(signed_in)
