import pytest

from photonic_dat.config.loading import load_config
from photonic_dat.exceptions import ConfigError
from photonic_dat.experiments.spec import expand, load_spec, parse_spec
from tests.experiments.conftest import tiny_spec


def test_a_spec_expands_to_every_cell_method_and_seed_with_shared_trainings():
    spec = parse_spec(
        tiny_spec(
            grid={"data.name": ["digits"], "mpnn.meshes": [1, 2]},
            methods={
                "dd": {
                    "set": {"method": "insilico"},
                    "deploy": {"errors.bs_std": 0.0, "errors.ps_std": 0.0, "errors.seed": 0},
                },
                "pat": {"set": {"method": "pat"}},
                "dat-none": {"set": {"method": "dat", "dat.internal_states": "none"}, "seeds": [1]},
            },
            exclude=[{"errors.bs_std": 0.0, "method": ["pat", "dat-none"]}],
        )
    )
    plans = expand(spec)
    by_method = {}
    for plan in plans:
        by_method.setdefault(plan.method, []).append(plan)
    # 2 depths x 2 error settings x 2 seeds of direct deployment, trained once per depth
    assert len(by_method["dd"]) == 8 and len(by_method["dd.trained"]) == 2
    assert len(by_method["pat"]) == 4  # error-free cells excluded: 2 depths x 1 x 2 seeds
    assert len(by_method["dat-none"]) == 2 and {p.seed for p in by_method["dat-none"]} == {1}
    assert len(plans) == 16
    # trainings come before the deployments that use them, each deploys its depth's model
    order = [p.run_id for p in plans]
    for plan in by_method["dd"]:
        assert plan.kind == "deploy" and order.index(plan.trained) < order.index(plan.run_id)
        trained = next(p for p in plans if p.run_id == plan.trained)
        assert dict(trained.cell)["mpnn.meshes"] == dict(plan.cell)["mpnn.meshes"]
        assert dict(trained.cell)["errors.bs_std"] == 0.0 and trained.seed == 0
    # every run's keys give the configuration it names
    run = next(p for p in by_method["pat"] if p.seed == 1 and dict(p.cell)["mpnn.meshes"] == 2)
    assert run.run_id == "pat/name=digits,meshes=2,bs_std=0.05,ps_std=0.05,seed=1"
    config = load_config(run.preset, run.overrides)
    assert (config.method, config.mpnn.meshes, config.errors.bs_std) == ("pat", 2, 0.05)
    assert (config.errors.seed, config.train.epochs) == (1, 1)


def test_method_list_shorthand_and_command_line_sets(write_spec):
    path = write_spec(tiny_spec(methods=["insilico", "dat-unitary"], exclude=[]))
    spec = load_spec(path, ["train.epochs=3", "data.name=digits"])
    plans = expand(spec)
    assert {p.method for p in plans} == {"insilico", "dat-unitary"} and len(plans) == 8
    config = load_config(plans[-1].preset, plans[-1].overrides)
    assert config.dat.internal_states == "unitary" and config.train.epochs == 3
    assert spec.name == "tiny"


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"methods": {}}, "at least one method"),
        ({"zip": {"e": {"errors.bs_std": [0.1, 0.2], "errors.ps_std": [0.1]}}}, "same number"),
        ({"grid": {"errors.bs_std": [0.1]}}, "also grid.errors.bs_std"),
        ({"colour": "red"}, "colour: unknown key"),
        ({"set": {"train.epochz": 2}}, "train.epochz"),
        ({"set": {"train.lr": -1}}, "train.lr"),
        ({"exclude": [{"method": ["dd", "pat"]}]}, "every run is excluded"),
        ({"methods": {"pat": {"set": {"method": "pat"}, "seeds": [7]}}}, "not in seeds"),
    ],
)
def test_bad_specs_are_named_errors(change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        expand(parse_spec(tiny_spec(**change)))


def test_a_bad_value_in_one_run_names_that_run():
    spec = parse_spec(tiny_spec(grid={"train.batch_size": [8, 0]}))
    with pytest.raises(ConfigError, match=r"(?s)run .*batch_size=0.*train\.batch_size"):
        expand(spec)
