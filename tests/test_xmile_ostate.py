"""Stella's OSTATE is refused by name (docs/XMILE_STOCKS.md: the number it returns for each
oven state is not documented), never run with a numbering of our own."""
import pytest

from sdmodels.errors import ImportModelError
from sdmodels.interop import import_model

OVEN = """<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><vendor>isee systems</vendor></header>
<sim_specs><start>0</start><stop>4</stop><dt>1</dt></sim_specs>
<model><variables>
<stock name="Oven"><eqn>0</eqn><inflow>loading</inflow><outflow>unloading</outflow>
<oven><capacity>5</capacity><cook_time>2</cook_time></oven></stock>
<flow name="loading"><eqn>1</eqn></flow><flow name="unloading"/>
<aux name="state"><eqn>OSTATE(Oven)</eqn></aux>
</variables></model></xmile>"""


def test_ostate_is_refused_by_name(tmp_path):
    path = tmp_path / "oven.xmile"
    path.write_text(OVEN)
    with pytest.raises(ImportModelError, match="variable 'state': unknown function 'OSTATE'"):
        import_model(path)
