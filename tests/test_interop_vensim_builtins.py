"""Vensim built-ins added to the importer, checked against the examples of Vensim's reference
(vensim.com/documentation/fn_*.html, cited per test) and closed forms."""

import pytest

from sdmodels import run
from sdmodels.errors import ImportModelError, VensimSyntaxError
from sdmodels.interop import import_model
from tests.mdl_files import control, write_mdl


def _write(tmp_path, text, stop=2, *, dt=1):
    """m.mdl: the equations `text` and the control section (0 to stop, TIME STEP dt)."""
    return write_mdl(tmp_path, text, control(stop, dt=dt))


def _run(tmp_path, text, stop=2):
    return run(import_model(_write(tmp_path, text, stop)), engine="interpreter")


def test_lookup_forward_backward_extrapolate_as_the_reference_examples(tmp_path):
    # fn_lookup_forward.html / fn_lookup_backward.html / fn_lookup_extrapolate.html:
    # LOOK((0,1),(1,1),(2,2)) at -1, 1.5 and 2.5
    out = _run(tmp_path, """
        LOOK((0,1),(1,1),(2,2)) ~~|
        """ + "".join(f"{kind} {tag} = LOOKUP {kind.upper()}(LOOK, {x}) ~~|\n"
                      for kind in ("forward", "backward", "extrapolate")
                      for tag, x in (("a", -1), ("b", 1.5), ("c", 2.5))))
    got = {c: out[c].iloc[0] for c in out.columns if c[-2:] in (" a", " b", " c")}
    assert got == {"forward a": 1.0, "forward b": 2.0, "forward c": 2.0,
                   "backward a": 1.0, "backward b": 1.0, "backward c": 2.0,
                   "extrapolate a": 1.0, "extrapolate b": 1.5, "extrapolate c": 2.5}


def test_lookup_area_as_the_reference_examples(tmp_path):
    # fn_lookup_area.html: LOOK((0,1),(1,1),(2,2)) from 0 to 1, 2 to 4 and 0.5 to 2.5
    out = _run(tmp_path, """
        LOOK((0,1),(1,1),(2,2)) ~~|
        a = LOOKUP AREA(LOOK, 0, 1) ~~|
        b = LOOKUP AREA(LOOK, 2, 4) ~~|
        c = LOOKUP AREA(LOOK, 0.5, 2.5) ~~|
        """)
    assert out.iloc[0][["a", "b", "c"]].tolist() == pytest.approx([1.0, 4.0, 3.0])


def test_vector_elm_map_offsets_over_the_whole_variable(tmp_path):
    # fn_vector_elm_map.html: var2[sub] = VECTOR ELM MAP(var1[s1], sub - 1) equals var1[sub];
    # with two subscripts the offset counts in subscript order (last fastest)
    out = _run(tmp_path, """
        sub: s1, s2, s3 ~~|
        tub: t1, t2 ~~|
        var1[sub] = 10, 20, 30 ~~|
        var2[sub] = VECTOR ELM MAP(var1[s1], sub - 1) ~~|
        moving[sub] = VECTOR ELM MAP(var1[s1], MODULO(Time + sub - 1, 3)) ~~|
        v[sub, tub] = 1, 2; 3, 4; 5, 6; ~~|
        flat[sub] = VECTOR ELM MAP(v[s1, t1], (sub - 1) * 2 + 1) ~~|
        outside = VECTOR ELM MAP(var1[s3], 1) ~~|
        """)
    assert [out[f"var2[s{i}]"].iloc[0] for i in (1, 2, 3)] == [10, 20, 30]
    assert [out[f"moving[s{i}]"].iloc[1] for i in (1, 2, 3)] == [20, 30, 10]
    assert [out[f"flat[s{i}]"].iloc[0] for i in (1, 2, 3)] == [2, 4, 6]
    assert out["outside"].iloc[0] < -1e30      # :NA: outside the variable


def test_vector_lookup_modes(tmp_path):
    # fn_vector_lookup.html: y values of vec evenly spaced over [xmin, xmax]; mode 0 lookup,
    # 2 backward, 3 extrapolate, 4 forward
    out = _run(tmp_path, """
        k: k1, k2, k3 ~~|
        y[k] = 0, 10, 40 ~~|
        plain = VECTOR LOOKUP(y[k1], 7.5, 0, 20, 0) ~~|
        held = VECTOR LOOKUP(y[k1], 30, 0, 20, 0) ~~|
        back = VECTOR LOOKUP(y[k1], 15, 0, 20, 2) ~~|
        extra = VECTOR LOOKUP(y[k1], 30, 0, 20, 3) ~~|
        fwd = VECTOR LOOKUP(y[k1], 15, 0, 20, 4) ~~|
        """)
    assert out.iloc[0][["plain", "held", "back", "extra", "fwd"]].tolist() == \
        [7.5, 40, 10, 70, 40]     # 70: the last segment, slope 3, 10 past x = 20


def test_vector_lookup_area_and_invert_modes(tmp_path):
    # fn_vector_lookup.html: mode 1 = LOOKUP AREA from xmin (ends held), 7 = the area with the
    # ends extrapolated (negative left of xmin), 5 = LOOKUP INVERT. Points (0,10) (10,20)
    # (20,40): trapezoids 150 and 300; beyond x = 20 the held 40 or the line of slope 2
    out = _run(tmp_path, """
        k: k1, k2, k3 ~~|
        y[k] = 10, 20, 40 ~~|
        area mid = VECTOR LOOKUP(y[k1], 15, 0, 20, 1) ~~|
        area held = VECTOR LOOKUP(y[k1], 30, 0, 20, 1) ~~|
        area extra = VECTOR LOOKUP(y[k1], 30, 0, 20, 7) ~~|
        area left = VECTOR LOOKUP(y[k1], -5, 0, 20, 7) ~~|
        inv = VECTOR LOOKUP(y[k1], 30, 0, 20, 5) ~~|
        inv out = VECTOR LOOKUP(y[k1], 50, 0, 20, 5) ~~|
        """)
    row = out.iloc[0]
    assert row["area mid"] == pytest.approx(150 + (20 + 30) / 2 * 5)
    assert row["area held"] == pytest.approx(450 + 40 * 10)
    assert row["area extra"] == pytest.approx(450 + 40 * 10 + 0.5 * 2 * 10 ** 2)
    assert row["area left"] == pytest.approx(-(10 * 5 - 0.5 * 1 * 5 ** 2))
    assert row["inv"] == pytest.approx(15.0)
    assert row["inv out"] == -2.0 ** 109          # :NA: outside the y values


def test_vector_lookup_invert_with_extrapolation(tmp_path):
    # fn_vector_lookup.html: mode 8 = LOOKUP INVERT with extrapolation, the smallest x at
    # which the table with its end segments continued gives y. Points (0,10) (10,20) (20,40):
    # end slopes 1 and 2; a flat end segment reaches nothing beyond it
    out = _run(tmp_path, """
        k: k1, k2, k3 ~~|
        y[k] = 10, 20, 40 ~~|
        down[k] = 40, 20, 10 ~~|
        flat[k] = 10, 20, 20 ~~|
        mid = VECTOR LOOKUP(y[k1], 30, 0, 20, 8) ~~|
        above = VECTOR LOOKUP(y[k1], 50, 0, 20, 8) ~~|
        below = VECTOR LOOKUP(y[k1], 5, 0, 20, 8) ~~|
        down above = VECTOR LOOKUP(down[k1], 50, 0, 20, 8) ~~|
        down below = VECTOR LOOKUP(down[k1], 5, 0, 20, 8) ~~|
        flat above = VECTOR LOOKUP(flat[k1], 30, 0, 20, 8) ~~|
        """)
    row = out.iloc[0]
    assert row[["mid", "above", "below", "down above", "down below"]].tolist() == \
        pytest.approx([15, 25, -5, -5, 25])
    assert row["flat above"] == -2.0 ** 109
    with pytest.raises(ImportModelError, match="variable 'odd' uses VECTOR LOOKUP: the mode "
                                               "must be a whole number from 0 to 9"):
        _run(tmp_path, """
            k: k1, k2 ~~|
            y[k] = 1, 2 ~~|
            odd = VECTOR LOOKUP(y[k1], 0.5, 0, 1, 10) ~~|
            """)


def test_lookup_slope_as_the_reference_examples(tmp_path):
    # fn_lookup_slope.html: the segment's slope, the mean of both at a point, outside 0 (m 0),
    # the nearest segment's (1) or :NA: (-1). Its six examples hold on ((0,0),(1,1),(2,1.5))
    # (segment slopes 1 and 0.5), not on the table printed with them, which the rule makes
    # give 0, 0, 0 at -1, 0.5 (m 1) and 0.5
    cases = {"a": (-1, -1), "b": (-1, 0), "c": (-1, 1), "d": (1, 0), "e": (0.5, 0),
             "f": (1.5, 0), "g": (0, 0), "h": (3, 1), "i": (2, -1)}
    out = _run(tmp_path, "LOOK((0,0),(1,1),(2,1.5)) ~~|\n" + "".join(
        f"s{k} = LOOKUP SLOPE(LOOK, {x}, {m}) ~~|\n" for k, (x, m) in cases.items()))
    got = out.iloc[0][[f"s{k}" for k in cases]].tolist()
    assert got == [-2.0 ** 109, 0, 1, 0.75, 1, 0.5, 1, 0.5, 0.5]


def test_vector_lookup_slope_modes(tmp_path):
    # fn_vector_lookup.html: 6 is LOOKUP SLOPE, 9 LOOKUP SLOPE with extrapolation; y = 0, 10,
    # 40 at x = 0, 10, 20 has segment slopes 1 and 3
    out = _run(tmp_path, """
        k: k1, k2, k3 ~~|
        y[k] = 0, 10, 40 ~~|
        on seg = VECTOR LOOKUP(y[k1], 15, 0, 20, 6) ~~|
        at point = VECTOR LOOKUP(y[k1], 10, 0, 20, 6) ~~|
        at end = VECTOR LOOKUP(y[k1], 20, 0, 20, 6) ~~|
        beyond = VECTOR LOOKUP(y[k1], 30, 0, 20, 6) ~~|
        beyond x = VECTOR LOOKUP(y[k1], 30, 0, 20, 9) ~~|
        before x = VECTOR LOOKUP(y[k1], -5, 0, 20, 9) ~~|
        moving = VECTOR LOOKUP(y[k1], Time * 10 + 5, 0, 20, 6) ~~|
        """)
    assert out.iloc[0][["on seg", "at point", "at end", "beyond", "beyond x",
                        "before x"]].tolist() == [3, 2, 3, 0, 3, 1]
    assert out["moving"].tolist() == [1, 3, 0]


def test_lookup_invert_as_the_reference_examples(tmp_path):
    # fn_lookup_invert.html: LOOK((0,0),(1,1),(3,2)) inverted at -1 (:NA:), 0.5 and 1.5
    out = _run(tmp_path, """
        LOOK((0,0),(1,1),(3,2)) ~~|
        a = LOOKUP INVERT(LOOK, -1) ~~|
        b = LOOKUP INVERT(LOOK, 0.5) ~~|
        c = LOOKUP INVERT(LOOK, 1.5) ~~|
        """)
    assert out.iloc[0][["a", "b", "c"]].tolist() == [-2.0 ** 109, 0.5, 2.0]


def test_npv_follows_the_equivalent_equations(tmp_path):
    # fn_npv.html: NPV = (accum + stream*dt*df)*factor, accum = INTEG(stream*df, init),
    # df = INTEG(-df*r/(1+r*dt), 1): with stream 1, r = 0.1, dt = 1, df_k = (1/1.1)^k
    out = _run(tmp_path, """
        value = NPV(1, 0.1, 0, 1) ~~|
        """, stop=3)
    df = [(1 / 1.1) ** k for k in range(4)]
    expected = [sum(df[:k]) + df[k] for k in range(4)]
    assert out["value"].tolist() == pytest.approx(expected, rel=1e-12)


def test_npve_is_excels_npv(tmp_path):
    # fn_npve.html: the stream valued at the end of each step, as Excel's NPV: 100 a step at
    # 10 % gives 100/1.1, + 100/1.1^2, + 100/1.1^3
    out = _run(tmp_path, "value = NPVE(100, 0.1, 0, 1) ~~|\n")
    assert out["value"].tolist() == pytest.approx([100 / 1.1, 100 / 1.1 + 100 / 1.1 ** 2,
                                                   100 / 1.1 + 100 / 1.1 ** 2 + 100 / 1.1 ** 3])


def test_gamma_ln_as_the_reference_example_and_math_lgamma(tmp_path):
    # fn_gamma_ln.html: EXP(GAMMA LN(4)) is 6 (3!); elsewhere the closed forms ln(sqrt(pi)) at
    # 0.5 and ln(9!) at 10, and the standard library's lgamma below 0.5 and between
    import math
    out = _run(tmp_path, """
        fact = EXP(GAMMA LN(4)) ~~|
        half = GAMMA LN(0.5) ~~|
        ten = GAMMA LN(10) ~~|
        small = GAMMA LN(0.1) ~~|
        moving = GAMMA LN(Time + 1.7) ~~|
        """)
    assert out.iloc[0][["fact", "half", "ten", "small"]].tolist() == pytest.approx(
        [6, math.log(math.sqrt(math.pi)), math.log(362880), math.lgamma(0.1)], rel=1e-13)
    assert out["moving"].tolist() == pytest.approx([math.lgamma(t + 1.7) for t in range(3)],
                                                   rel=1e-13)


def test_random_0_1_is_random_uniform_0_1(tmp_path):
    # fn_random.html: RANDOM 0 1() is RANDOM UNIFORM(0, 1, 0); 400 draws: in [0, 1), their mean
    # within 0.06 of 0.5 (4 standard errors, 0.2887 / sqrt(400) = 0.0144 each)
    draws = _run(tmp_path, "noise = RANDOM 0 1() ~~|\n", stop=399)["noise"]
    assert draws.min() >= 0 and draws.max() < 1 and abs(draws.mean() - 0.5) < 0.06
    assert draws.nunique() > 390


def test_time_base_is_start_plus_time_times_slope(tmp_path):
    # fn_time_base.html: "Same as: (START + Time*SLOPE)"
    out = _run(tmp_path, "decimal year = TIME BASE(1970, 0.25) ~~|\n")
    assert out["decimal year"].tolist() == [1970, 1970.25, 1970.5]


def test_sinteg_keeps_its_restrictions(tmp_path):
    # fn_sinteg.html: SINTEG(rate, initial, 0, 10, 1, :NA:, :NA:) is an integer in [0, 10]
    out = _run(tmp_path, """
        level = SINTEG(2.6, 0, 0, 10, 1, :NA:, :NA:) ~~|
        free = SINTEG(2.6, 0, :NA:, :NA:, :NA:, :NA:, :NA:) ~~|
        snapped = SINTEG(-0.3, 1, :NA:, :NA:, :NA:, 0, 0.5) ~~|
        """, stop=5)
    assert out["level"].tolist() == [0, 3, 6, 9, 10, 10]
    assert out["free"].tolist() == pytest.approx([0, 2.6, 5.2, 7.8, 10.4, 13.0])
    assert out["snapped"].tolist() == pytest.approx([1, 0.7, 0, 0, 0, 0])


def test_delay_material_with_a_fixed_time_is_a_pipeline(tmp_path):
    out = _run(tmp_path, """
        input = STEP(5, 1) ~~|
        late = DELAY MATERIAL(input, 2, 0, 0) ~~|
        """, stop=4)
    assert out["late"].tolist() == [0, 0, 0, 5, 5]


def test_delay_material_schedules_each_input_by_its_delay_time(tmp_path):
    # fn_delay_material.html: DELAY FIXED whose delay time may vary; inputs due at one step add
    # up, a step nothing is due at gives the missing value. Input 1, 2, 3, ... (Time + 1):
    # a delay time falling 3, 2, 1 brings the first three inputs out together at t = 3 (6);
    # rising as 1 + Time, 10 entering at t = 0, 1, 2 leaves at t = 1, 3, 5 and -1 in between
    out = _run(tmp_path, """
        input = Time + 1 ~~|
        falling = DELAY MATERIAL(input, MAX(1, 3 - Time), 0, -1) ~~|
        rising = DELAY MATERIAL(10, 1 + Time, 7, -1) ~~|
        fixed = DELAY MATERIAL(input, IF THEN ELSE(Time < 100, 2, 5), 0.5, -1) ~~|
        pipe = DELAY FIXED(input, 2, 0.5) ~~|
        """, stop=6)
    assert out["falling"].tolist() == [0, 0, 0, 6, 4, 5, 6]
    assert out["rising"].tolist() == [7, 10, -1, 10, -1, 10, -1]
    assert out["fixed"].tolist() == out["pipe"].tolist() == [0.5, 0.5, 1, 2, 3, 4, 5]
    # per element: input k + Time entering with delay 1 + k + Time leaves at 2, 4, 6 (k1) and
    # 3, 5 (k2)
    out = _run(tmp_path, """
        k: k1, k2 ~~|
        lagged[k] = DELAY MATERIAL(Time + k, 1 + k + Time, 0, -1) ~~|
        """, stop=6)
    assert out["lagged[k1]"].tolist() == [0, 0, 1, -1, 2, -1, 3]
    assert out["lagged[k2]"].tolist() == [0, 0, 0, 2, -1, 3, -1]
    # an array constant bounds the delay time by its largest element: 4 + 1 -> 5 + 1 steps
    # ahead at most, 5 + 2 slots per ring buffer, whatever the run's 50 steps
    model = import_model(_write(tmp_path, """
        k: k1, k2 ~~|
        t[k] = 2, 4 ~~|
        lagged[k] = DELAY MATERIAL(Time, t[k] + STEP(1, 5), 0, -1) ~~|
        """, 50))
    assert _rings(model, ".count") == [7, 7]
    out = run(model, engine="interpreter")
    # k1: inputs of t < 5 leave 2 steps later, later ones 3: t = 2, 3, 4, 5, 6 give 0..4,
    # t = 7 nothing (-1), then t - 3
    assert out["lagged[k1]"].tolist()[:10] == [0, 0, 0, 1, 2, 3, 4, -1, 5, 6]


def test_delay_material_over_a_long_run_keeps_slots_for_its_longest_delay_only(tmp_path):
    # the ring buffer's slots number the delay time's largest value / TIME STEP (3 here, +1 to
    # spare, +1 the slot read now), not the run's 2,000 steps. Input Time + 1 with a delay time
    # falling from 3 to 1 at t = 1000:
    # inputs of 997..999 (3 steps) leave at 1000..1002, those of 1000, 1001 (1 step) at 1001,
    # 1002, adding up there (fn_delay_material.html)
    path = _write(tmp_path, """
        input = Time + 1 ~~|
        late = DELAY MATERIAL(input, 3 - STEP(2, 1000), 0, -1) ~~|
        """, 2000)
    model = import_model(path)
    assert _rings(model, ".amount") == _rings(model, ".count") == [5]
    out = run(model, engine="interpreter")
    late = out["late"].to_numpy()
    assert late[[2, 3, 999, 1000, 1001, 1002, 1003, 2000]].tolist() == [
        0, 1, 997, 998, 999 + 1001, 1000 + 1002, 1003, 2000]
    # conserved: all input but the last step's (still in transit) has left
    assert late.sum() == pytest.approx(out["input"].to_numpy()[:-1].sum())


def _rings(model, lane: str) -> list[int]:
    """The slots of each ring buffer (elements.Schedule) of a lane: its length / TIME STEP."""
    from sdmodels.elements import Schedule
    return [round(e.delay.value / model.dt) for e in model.elements.values()
            if isinstance(e, Schedule) and e.id.endswith(lane)]


def test_delay_material_with_no_bound_on_its_delay_time_has_a_slot_per_step(tmp_path):
    # a delay time read from a stock has no largest value known at import: the ring buffers
    # take one slot per step of the run, + 1. wait = 1 + Time (a stock growing 1 a step): the
    # input of step n (n + 1) waits 1 + n steps, due at 2n + 1; every other step gives `missing`
    # (-1) and all of the input that came due is out (fn_delay_material.html)
    model = import_model(_write(tmp_path, """
        wait = INTEG(1, 1) ~~|
        late = DELAY MATERIAL(Time + 1, wait, 0, -1) ~~|
        """, 3000))
    assert _rings(model, ".amount") == [3001]
    late = run(model, engine="interpreter")["late"].to_numpy()
    assert late[:8].tolist() == [0, 1, -1, 2, -1, 3, -1, 4]
    assert late[2001].tolist() == 1001 and late[2000] == -1
    assert (late[2::2] == -1).all() and late[1::2].tolist() == list(range(1, 1501))
    # 1 + Time over 500 steps: bounded by 501, so the run's length decides (500 + 1)
    model = import_model(_write(tmp_path, "late = DELAY MATERIAL(1, 1 + Time, 0, 0) ~~|", 500))
    assert _rings(model, ".count") == [501]
    # bounded with MIN: 10 + 1 + 1 slots, whatever the run's length
    model = import_model(_write(tmp_path, """
        wait = INTEG(1, 1) ~~|
        late = DELAY MATERIAL(1, MIN(wait, 10), 0, 0) ~~|
        """, 500))
    assert _rings(model, ".count") == [12]


def _scheduled(xs, times, dt, initial, missing, *, material):
    """The documented rule, step by step: input i leaves k_i = max(1, round(time_i / dt))
    steps later; DELAY MATERIAL gives the sum of the inputs due at a step (`missing` when
    none; the first k_0 steps `initial`), DELAY INFORMATION the newest input due by then
    (`initial` before the first)."""
    import math
    due = [i + max(1, math.floor(t / dt + 0.5)) for i, t in enumerate(times)]
    k0 = due[0]
    if material:
        return [sum(x for x, d in zip(xs, due) if d == n) + (initial if n < k0 else 0)
                if n < k0 or n in due else missing for n in range(len(xs))]
    newest = [max((i for i, d in enumerate(due) if d <= n), default=None)
              for n in range(len(xs))]
    return [initial if i is None else xs[i] for i in newest]


@pytest.mark.parametrize("time, slots", [
    ("wait(Time)", 6 + 1),                         # a lookup: its largest y, 6
    ("2 + RAMP(0.1, 0, 50)", 7 + 1),               # 2 + 0.1 * (50 - 0)
    ("IF THEN ELSE(Time > 5, 3, MAX(1, 9 - Time))", 9 + 1),
    ("MIN(4 * PULSE(3, 2) + 1, 20)", 5 + 1),
    ("ABS(-12 + STEP(4, 10)) / 2", 6 + 1),
    ("1 + 7 * (1 + SIN(Time / 3)) / 2", 8 + 1),
])
def test_varying_delays_keep_slots_for_the_largest_delay_time(tmp_path, time, slots):
    # vensim_bounds: the largest value each delay time can take in a 100-step run, found at
    # import, sizes the ring buffers (one slot to spare, one read now), not the run's length;
    # and no input is lost: both
    # delays give, step by step, what the documented rule does (_scheduled)
    model = import_model(_write(tmp_path, f"""
        wait((0, 1), (10, 6), (20, 2)) ~~|
        input = 10 + Time * Time ~~|
        wait time = {time} ~~|
        material = DELAY MATERIAL(input, wait time, 5, -1) ~~|
        information = DELAY INFORMATION(input, wait time, 5) ~~|
        """, 100))
    assert _rings(model, ".entered") == _rings(model, ".amount") == [slots + 1]
    out = run(model, engine="interpreter")
    xs, times = out["input"].tolist(), out["wait time"].tolist()
    for kind in ("material", "information"):
        assert out[kind].tolist() == pytest.approx(_scheduled(
            xs, times, 1.0, 5, -1, material=kind == "material"), rel=1e-12)


@pytest.mark.parametrize("dt", [1, 0.25])
def test_delay_information_discards_or_holds_inputs_as_the_reference_example(tmp_path, dt):
    # fn_delay_information.html's example: R = RAMP(1, 10, 60); SS1 with a delay time rising
    # 15 -> 30 at t = 40, SS2 falling 15 -> 5. "If delay time is decreasing some values of the
    # input will be discarded and replaced by more recent inputs. If delay time is increasing
    # existing values will be held." Each input is due after the delay time it entered with:
    # SS1 gives R(t - 15) until the inputs of t < 40 are out (t < 55), holds R(40 - dt) until
    # the first input of t >= 40 is due at 70, then R(t - 30); SS2 gives R(t - 15) until t <
    # 45, then R(t - 5): at 45..55 the inputs of 30..40 come due with newer ones and are
    # discarded. In steps (f per unit of time):
    path = _write(tmp_path, """
        R = RAMP(1, 10, 60) ~~|
        SS1 = DELAY INFORMATION(R, 15 + STEP(15, 40), 0) ~~|
        SS2 = DELAY INFORMATION(R, 15 - STEP(10, 40), 0) ~~|
        """, 100, dt=dt)
    out = run(import_model(path), engine="interpreter")
    r, ss1, ss2 = (out[c].to_numpy() for c in ("R", "SS1", "SS2"))
    f = int(1 / dt)
    steps = range(len(r))
    assert ss1.tolist() == [0 if i < 15 * f else r[i - 15 * f] if i < 55 * f else
                            r[40 * f - 1] if i < 70 * f else r[i - 30 * f] for i in steps]
    assert ss2.tolist() == [0 if i < 15 * f else r[i - 15 * f] if i < 45 * f else
                            r[i - 5 * f] for i in steps]
    assert 0 <= ss1.min() and ss1.max() <= r.max()     # the input's range is kept (mgu09)


def test_delay_information_never_goes_back_to_an_input_older_than_its_output(tmp_path):
    # input Time + 1; the input of t = 1 waits 1 step, all others 5: it is out at t = 2 and held
    # until the input of t = 2 is due at 7; the input of t = 0, due at 5, is older: discarded
    out = _run(tmp_path, """
        late = DELAY INFORMATION(Time + 1, IF THEN ELSE(Time = 1, 1, 5), -1) ~~|
        """, stop=8)
    assert out["late"].tolist() == [-1, -1, 2, 2, 2, 2, 2, 3, 4]


def test_delayp_is_delay3_with_its_pipeline(tmp_path):
    # fn_delayp.html's equivalent equations: stages of DL = 1 with TIME STEP 1 pass their
    # content on each step, so the output is the input of 3 steps before (10 until the step
    # at t = 2 arrives at t = 5) and the pipeline holds the last three inputs
    out = _run(tmp_path, """
        input = 10 + STEP(10, 2) ~~|
        done = DELAYP(input, 3 : wip) ~~|
        same = DELAY3(input, 3) ~~|
        """, stop=6)
    assert out["done"].tolist() == [10, 10, 10, 10, 10, 20, 20]
    assert out["wip"].tolist() == [30, 30, 30, 40, 50, 60, 60]
    assert out["same"].tolist() == out["done"].tolist()


def test_subscripted_delayp_has_a_pipeline_per_element(tmp_path):
    # fn_delayp.html's equivalent equations per element (the pipeline takes the subscripts of
    # the calling equation): as in the test above, with inputs 10 and 20 stepping up by 10 at
    # t = 2, the output is the input of 3 steps before and the pipeline its last three inputs
    out = _run(tmp_path, """
        k: k1, k2 ~~|
        input[k] = 10 * k + STEP(10, 2) ~~|
        done[k] = DELAYP(input[k], 3 : wip) ~~|
        """, stop=6)
    assert out["done[k1]"].tolist() == [10, 10, 10, 10, 10, 20, 20]
    assert out["done[k2]"].tolist() == [20, 20, 20, 20, 20, 30, 30]
    assert out["wip[k1]"].tolist() == [30, 30, 30, 40, 50, 60, 60]
    assert out["wip[k2]"].tolist() == [60, 60, 60, 70, 80, 90, 90]
    # one equation per element, each with its own delay time: each element's pipeline starts
    # at delay time * input and conserves (wip(t + 1) = wip(t) + input - done under Euler)
    out = _run(tmp_path, """
        k: k1, k2 ~~|
        input[k] = 10 * k + STEP(10, 2) ~~|
        done[k1] = DELAYP(input[k1], 3 : wip) ~~|
        done[k2] = DELAYP(input[k2], 6 : wip) ~~|
        """, stop=6)
    assert out["wip[k1]"].tolist() == [30, 30, 30, 40, 50, 60, 60]
    wip, inflow, done = (out[f"{c}[k2]"].to_numpy() for c in ("wip", "input", "done"))
    assert wip[0] == 6 * 20 and done[-1] > 20
    assert wip[1:] == pytest.approx(wip[:-1] + inflow[:-1] - done[:-1], rel=1e-12)


def test_delayp_pipeline_conserves_with_a_varying_delay_time(tmp_path):
    # fn_delayp.html: the pipeline conserves the input when the delay time changes: under Euler
    # wip(t + dt) = wip(t) + dt * (input - output), whatever the delay time does
    path = _write(tmp_path, """
        input = 5 + 3 * SIN(Time) ~~|
        time to do = 2 + Time / 4 ~~|
        done = DELAYP(input, time to do : wip) ~~|
        """, 6, dt=0.25)
    out = run(import_model(path), engine="interpreter")
    wip, inflow, done = (out[c].to_numpy() for c in ("wip", "input", "done"))
    assert wip[0] == pytest.approx(3 * 5 * 2 / 3)      # three stages of DL * input
    assert wip[1:] == pytest.approx(wip[:-1] + 0.25 * (inflow[:-1] - done[:-1]), rel=1e-12)
    assert done.min() > 0 and abs(done[-1] - inflow[-1]) > 0.1    # a real lag, not a copy


def test_delayp_pipeline_may_not_have_an_equation_too(tmp_path):
    with pytest.raises(VensimSyntaxError, match=r"m.mdl:3:\d+: 'wip' is DELAYP's pipeline "
                                                "output and also has its own equation"):
        _run(tmp_path, """
            done = DELAYP(1, 3 : wip) ~~|
            wip = 2 ~~|
            """)


def _data_model(tmp_path, text, stop):
    """m.mdl with data variable Values[DimA] and `text`; d.dat with SDEverywhere getdata's
    data: Values[A1] at times 0 1 2 9 10 (none for A2)."""
    (tmp_path / "d.dat").write_text("Values[A1]\n" + "".join(
        f"{t}\t{v}\n" for t, v in ((0, 0), (1, 10), (2, 20), (9, 70), (10, 80))))
    return _write(tmp_path, """
        DimA: A1, A2 ~~|
        Values[DimA] ~~|""" + text, stop)


def test_data_from_dat_files_and_get_data_between_times(tmp_path):
    # expected values: Vensim's own output of SDEverywhere's getdata and sumif models
    # (getdata.dat, sumif.dat): data at times 0 1 2 9 10, read at t + 0.5 and t + 1; a cell the
    # .dat file does not hold is :NA:
    path = _data_model(tmp_path, """
        half fwd = GET DATA BETWEEN TIMES(Values[A1], MIN(FINAL TIME, Time + 0.5), 1) ~~|
        half back = GET DATA BETWEEN TIMES(Values[A1], MIN(FINAL TIME, Time + 0.5), -1) ~~|
        one interp = GET DATA BETWEEN TIMES(Values[A1], MIN(FINAL TIME, Time + 1), 0) ~~|
        missing = Values[A2] ~~|
        before = GET DATA BETWEEN TIMES(Values[A1], -1, 0) ~~|
        low = GET DATA MIN(Values[A1], 1, 9) ~~|
        high = GET DATA MAX(Values[A1], 1.5, 9.5) ~~|
        none = GET DATA MAX(Values[A1], 3, 8) ~~|
        """, 10)
    out = run(import_model(path, data_files=["d.dat"]), engine="interpreter")
    assert out["half fwd"].tolist() == [0, 10, 20, 70, 70, 70, 70, 70, 70, 70, 80]
    assert out["half back"].tolist() == [0, 0, 10, 20, 20, 20, 20, 20, 20, 20, 70]
    assert out["one interp"].iloc[:4].tolist() == pytest.approx([10, 20, 20 + 50 / 7,
                                                                 20 + 100 / 7])
    assert out["missing"].iloc[0] == -2.0 ** 109
    assert out["Values[A1]"].tolist()[:3] == [0, 10, 20]
    # fn_get_data_between_times.html: :NA: before the first point; fn_get_data_min.html: the
    # extreme data point in the range, :NA: when the range holds none
    assert out["before"].iloc[0] == -2.0 ** 109
    assert out.iloc[0][["low", "high", "none"]].tolist() == [10, 70, -2.0 ** 109]
    (tmp_path / "other.dat").write_text("Elsewhere\n0\t1\n")
    with pytest.raises(ImportModelError, match="none of the data files given .other.dat. holds "
                                               "a series of 'Values'"):
        import_model(path, data_files=["other.dat"])


def test_get_data_mean_and_the_data_summaries(tmp_path):
    # GET DATA MEAN counts the points from start to end as fn_get_data_min.html does (ends
    # included, :NA: when none); FIRST / LAST TIME and TOTAL POINTS read the series itself
    path = _data_model(tmp_path, """
        mean all = GET DATA MEAN(Values[A1], 0, 10) ~~|
        mean part = GET DATA MEAN(Values[A1], 1, 9) ~~|
        mean so far = GET DATA MEAN(Values[A1], 0, Time) ~~|
        mean none = GET DATA MEAN(Values[A1], 3, 8) ~~|
        first = GET DATA FIRST TIME(Values[A1]) ~~|
        last = GET DATA LAST TIME(Values[A1]) ~~|
        points = GET DATA TOTAL POINTS(Values[A1]) ~~|
        """, 3)
    out = run(import_model(path, data_files=["d.dat"]), engine="interpreter")
    row = out.iloc[0]
    assert row["mean all"] == pytest.approx(180 / 5)
    assert row["mean part"] == pytest.approx(100 / 3)
    assert row["mean none"] == -2.0 ** 109
    assert out["mean so far"].tolist() == pytest.approx([0, 5, 10, 10])
    assert row[["first", "last", "points"]].tolist() == [0, 10, 5]
    with pytest.raises(ImportModelError, match="GET DATA TOTAL POINTS: no data series for "
                                               "Values.A2."):
        path.write_text(path.read_text().replace("POINTS(Values[A1])", "POINTS(Values[A2])"))
        import_model(path, data_files=["d.dat"])


def test_get_data_median_with_known_bounds(tmp_path):
    # the data points 0 10 20 70 80 (times 0 1 2 9 10) counted from start to end as
    # fn_get_data_min.html counts them: all five, median 20; times 1-9, 10 20 70 -> 20; times
    # 1-10, four points -> (20 + 70) / 2; none from 3 to 8 -> :NA:
    path = _data_model(tmp_path, """
        all = INITIAL(GET DATA MEDIAN(Values[A1], INITIAL TIME, FINAL TIME)) ~~|
        part = GET DATA MEDIAN(Values[A1], 1, 9) ~~|
        even = GET DATA MEDIAN(Values[A1], 1, 10) ~~|
        none = GET DATA MEDIAN(Values[A1], 3, 8) ~~|
        """, 10)
    row = run(import_model(path, data_files=["d.dat"]), engine="interpreter").iloc[-1]
    assert row[["all", "part", "even", "none"]].tolist() == [20, 20, 45, -2.0 ** 109]
    path.write_text(path.read_text().replace("MEDIAN(Values[A1], 1, 9)",
                                             "MEDIAN(Values[A1], 1, Time)"))
    with pytest.raises(ImportModelError, match=r"m.mdl:6: variable 'part' uses GET DATA "
                                               "MEDIAN: start and end must be known at import"):
        import_model(path, data_files=["d.dat"])


def test_get_data_at_time_reads_the_variable_by_its_own_keyword(tmp_path):
    # function_changes.html (Vensim 4.1): "the value for the data variable D at time T or :NA:
    # if not available": Values interpolates (0 10 20 70 80 at times 0 1 2 9 10), Held holds
    # back (:HOLD BACKWARD:); :NA: before the first and after the last point
    path = _data_model(tmp_path, """
        Held :HOLD BACKWARD: ~~|
        mid = GET DATA AT TIME(Values[A1], 1.5) ~~|
        gap = GET DATA AT TIME(Values[A1], 5) ~~|
        held at 5 = GET DATA AT TIME(Held, 5) ~~|
        moving = GET DATA AT TIME(Values[A1], Time * 4) ~~|
        before = GET DATA AT TIME(Values[A1], -1) ~~|
        """, 3)
    (tmp_path / "held.dat").write_text("Held\n0\t1\n4\t2\n8\t3\n")
    out = run(import_model(path, data_files=["d.dat", "held.dat"]), engine="interpreter")
    row = out.iloc[0]
    assert row[["mid", "gap", "held at 5", "before"]].tolist() == pytest.approx(
        [15, 20 + 50 * 3 / 7, 2, -2.0 ** 109])
    assert out["moving"].tolist() == pytest.approx([0, 20 + 50 * 2 / 7, 20 + 50 * 6 / 7,
                                                    -2.0 ** 109])


@pytest.mark.parametrize("call, why", [
    ("GET DATA STDV(x, 0, 1)", "GET DATA STDV: its reference page could not be found.*sample "
                               "or population"),
    ("SSTATS(x, 1)", "SSTATS: its reference page could not be found"),
    ("DELAY CONVEYOR(x, 1, 0, 0, 0, 0)", "DELAY CONVEYOR: not implemented yet"),
    ("NO SUCH FUNCTION(x)", "function NO SUCH FUNCTION: not supported by the importer"),
])
def test_functions_not_imported_stop_at_their_file_and_line(tmp_path, call, why):
    with pytest.raises(ImportModelError, match=rf"m\.mdl:4: variable 'y' uses (function )?"
                                               rf"{why}"):
        _run(tmp_path, f"""
            x = 1 ~~|
            y = {call} ~~|
            """)
