"""The real-time core's public interface, as ``quorum.realtime.__all__`` lists it
(docs/realtime.md, "Building on the core")."""

import subprocess
import sys

import pytest

import quorum.realtime
from tests.services import ROOT


@pytest.mark.parametrize("first", ["", "import quorum.db.uow; "])
def test_every_public_name_resolves_in_a_fresh_interpreter(first: str) -> None:
    """Loaded lazily (the package must not import its log on import, whichever of it and
    ``quorum.db.uow`` comes first): every name of ``__all__`` resolves."""
    code = f"{first}from quorum.realtime import *; import quorum.realtime as r; "
    code += "assert all(globals()[n] is getattr(r, n) for n in r.__all__)"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    with pytest.raises(AttributeError):
        quorum.realtime.no_such_name  # noqa: B018
