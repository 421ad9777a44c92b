"""peewee's PostgreSQL driver is loaded only when a PostgreSQL database is opened
(it costs ~10 MB of the agent's idle memory budget)."""

import subprocess
import sys


def test_an_agent_on_sqlite_never_loads_psycopg2() -> None:
    code = (
        "import sys, agent.app, agent.storage\n"
        "from agent.storage import Storage\n"
        "s = Storage.open_sync('sqlite:///:memory:'); s.close_sync()\n"
        "print('psycopg2' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
