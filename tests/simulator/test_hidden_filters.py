"""The simulator accepts, on lists and on get-by-id, exactly the hidden-record filters the connector sends."""

from __future__ import annotations

import pytest

from cliniko_connector.catalog.hidden import HIDDEN_FILTERS
from cliniko_tools.simulator.resources import LIST_ROUTES, RESOURCES


@pytest.mark.parametrize("path", sorted(p for p in HIDDEN_FILTERS if p.strip("/") in LIST_ROUTES))
def test_the_simulator_filters_what_the_spec_lets_the_connector_ask_for(path: str) -> None:
    route = LIST_ROUTES[path.strip("/")]
    rdef = RESOURCES[route.resource]
    hidden = set(HIDDEN_FILTERS[path])
    assert hidden <= set(rdef.filters)  # the list takes `q[]=<state>_at:*`
    if "get" in rdef.ops and path.count("/") == 1:
        assert set(rdef.get_filters) == hidden  # and so does the get-by-id, no more (the spec's 422 otherwise)
    assert set(rdef.hide) >= hidden  # and it hides those records unless asked
