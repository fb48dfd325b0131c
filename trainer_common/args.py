"""Command-line parsing with `HfArgumentParser`, plus JSON/YAML config files.

`python run_x.py config.yaml --learning_rate 1e-4` reads the file first and lets the flags after it override it.
"""

import json
import sys
from argparse import ArgumentTypeError
from pathlib import Path

from .errors import InputError
from .help import HELP_FLAGS, format_help
from .io import read_utf8

CONFIG_SUFFIXES = (".json", ".yaml", ".yml")

# TrainingArguments flags that transformers 5 removed or renamed, which older command lines and configs still carry.
RETIRED_FLAGS = {
    "evaluation_strategy": "renamed --eval_strategy in transformers 5",
    "warmup_ratio": "removed in transformers 5: --warmup_steps below 1 is a fraction of the steps (0.1: 10%)",
    "no_cuda": "removed in transformers 5: use --use_cpu",
    "use_mps_device": "removed in transformers 5: MPS is used when available; --use_cpu to avoid it",
    "per_gpu_train_batch_size": "removed in transformers 5: use --per_device_train_batch_size",
    "per_gpu_eval_batch_size": "removed in transformers 5: use --per_device_eval_batch_size",
    "group_by_length": "removed in transformers 5: use --train_sampling_strategy group_by_length",
    "logging_dir": "removed in transformers 5: TensorBoard logs go where TENSORBOARD_LOGGING_DIR says",
    "push_to_hub_token": "removed in transformers 5: use --hub_token",
    "push_to_hub_model_id": "removed in transformers 5: use --hub_model_id",
    "push_to_hub_organization": "removed in transformers 5: use --hub_model_id organization/name",
    "include_inputs_for_metrics": "removed in transformers 5: use --include_for_metrics inputs",
    "save_safetensors": "removed in transformers 5: checkpoints are always safetensors",
    "fp16_backend": "removed in transformers 5: mixed precision is torch amp",
    "half_precision_backend": "removed in transformers 5: mixed precision is torch amp",
    "split_batches": "removed in transformers 5: use --accelerator_config '{\"split_batches\": true}'",
    "dispatch_batches": "removed in transformers 5: use --accelerator_config '{\"dispatch_batches\": true}'",
    "torchdynamo": "removed in transformers 5: use --torch_compile_backend",
    "adafactor": "removed: use --optim adafactor",
    "fp16_opt_level": "removed: apex is gone, --fp16 is torch amp",
    "fsdp_min_num_params": "removed in transformers 5: set min_num_params in --fsdp_config",
    "fsdp_transformer_layer_cls_to_wrap": "removed in transformers 5: set it in --fsdp_config",
    "tpu_num_cores": "removed in transformers 5: TPU launches are accelerate's (accelerate launch --tpu)",
    "tpu_metrics_debug": "removed in transformers 5",
    "use_ipex": "removed in transformers 5 (Intel extension support dropped)",
    "jit_mode_eval": "removed in transformers 5: use --torch_compile",
    "include_tokens_per_second": "removed in transformers 5: --include_num_input_tokens_seen counts tokens",
    "use_legacy_prediction_loop": "removed in transformers 5",
    "past_index": "removed in transformers 5",
    "ray_scope": "removed in transformers 5",
    "mp_parameters": "removed in transformers 5 (SageMaker model parallelism)",
}


MAX_CONFIG_BYTES = 10 << 20  # 10 MiB: far beyond any argument list; a larger file is not a config
MAX_YAML_DEPTH = 100  # deeper nesting is no argument value; this refuses it before Python's recursion limit


def load_config_file(path: str) -> dict:
    """Read a JSON or YAML mapping of argument names to values.

    YAML aliases (`*name`) are refused: a few hundred bytes of nested aliases expand to billions of values. A key
    given twice is refused too (both formats would keep the last one silently), and so is a key that is not a name.
    """
    file = Path(path)
    if file.is_file() and file.stat().st_size > MAX_CONFIG_BYTES:
        size = file.stat().st_size
        raise InputError(f"{path}: {size} bytes, over the {MAX_CONFIG_BYTES}-byte limit of a config file")
    text = read_utf8(file, "config file")
    if file.suffix == ".json":
        try:
            config = json.loads(text, object_pairs_hook=lambda pairs: _unique_keys(pairs, path))
        except InputError:
            raise
        except RecursionError as err:
            raise InputError(f"{path}: JSON nested too deeply") from err
        except ValueError as err:  # JSONDecodeError, or an integer of more digits than Python converts
            raise InputError(f"{path}: not valid JSON: {err}") from err
    else:
        import yaml

        try:
            config = yaml.load(text, Loader=_yaml12_bool_loader())
        except _RefusedYAML as err:
            raise InputError(f"{path}:{err.line}: {err}") from err
        except (yaml.YAMLError, ValueError) as err:  # ValueError: an integer of more digits than Python converts
            raise InputError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(config, dict):
        raise InputError(f"{path}: expected a mapping of argument names to values, got {type(config).__name__}")
    for key in config:
        if not isinstance(key, str):
            raise InputError(f"{path}: key {key!r} is not an argument name")
    return config


def _unique_keys(pairs: list[tuple], path: str) -> dict:
    """A JSON object's pairs as a dict, refusing a key given twice."""
    config = {}
    for key, value in pairs:
        if key in config:
            raise InputError(f"{path}: key {key!r} is given twice")
        config[key] = value
    return config


class _RefusedYAML(Exception):
    """Valid YAML that a config file may not hold, at 1-based `line`."""

    def __init__(self, message: str, mark):
        super().__init__(message)
        self.line = mark.line + 1


def _yaml12_bool_loader():
    """A safe YAML loader whose booleans are YAML 1.2's `true`/`false` only, and that refuses aliases and nesting
    deeper than `MAX_YAML_DEPTH` as it composes, before any value is built.

    PyYAML follows YAML 1.1, where `no`, `off`, `yes` and `on` are booleans too: `eval_strategy: no` would become
    `False`. Kept as strings, they go through the flag's own type (`do_eval: no` still means False).
    """
    import re
    from collections.abc import Hashable

    import yaml

    bool_tag = "tag:yaml.org,2002:bool"

    class Loader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent):
                message = f"YAML alias *{event.anchor}: config files take no aliases; write the value out"
                raise _RefusedYAML(message, event.start_mark)
            if self.depth >= MAX_YAML_DEPTH:
                raise _RefusedYAML(f"nested more than {MAX_YAML_DEPTH} levels deep", event.start_mark)
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable):  # an unhashable key is refused by the base class
                    if key in seen:
                        raise _RefusedYAML(f"key {key!r} is given twice", key_node.start_mark)
                    seen.add(key)
            return super().construct_mapping(node, deep)

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    return Loader


def flag_name(arg: str) -> str | None:
    """`--hub-token=x` -> "hub_token": argparse takes both spellings of a flag."""
    return arg[2:].split("=", 1)[0].replace("-", "_") if arg.startswith("--") else None


def _raise_input_error(message: str):
    raise InputError(message)


def _options_admitting_none(dataclass_types) -> set[str]:
    """Names of the fields whose declared type admits None (`int | None`): the only ones a config's `null` may set."""
    import dataclasses
    import types
    import typing

    names = set()
    for dataclass_type in dataclass_types:
        hints = typing.get_type_hints(dataclass_type)
        for field in dataclasses.fields(dataclass_type):
            hint = hints.get(field.name, typing.Any)
            if hint in (typing.Any, types.NoneType) or types.NoneType in typing.get_args(hint):
                names.add(field.name)
    return names


def _normalized_keys(config: dict, path: str) -> dict:
    """`learning-rate` -> `learning_rate`, as argparse takes both spellings of a flag; both at once are refused."""
    normalized, spelling = {}, {}
    for key, value in config.items():
        name = key.replace("-", "_")
        if name in normalized:
            raise InputError(f"{path}: {spelling[name]} and {key} are the same argument: give it once")
        normalized[name], spelling[name] = value, key
    return normalized


def _argument_parser(dataclass_types):
    """An `HfArgumentParser` of `dataclass_types` that takes no abbreviations (a misspelt --learning_rat must fail,
    not set another option) and leaves `--help` to `format_help`."""
    from transformers import HfArgumentParser

    class ArgumentParser(HfArgumentParser):
        def add_argument(self, *args, group=None, **kwargs):  # a field's help group is no argparse keyword
            return super().add_argument(*args, **kwargs)

    return ArgumentParser(dataclass_types, allow_abbrev=False, add_help=False)


def parse_args(dataclass_types, argv: list[str] | None = None):
    """Parse `argv` into one instance of each dataclass type, in order.

    The first argument may be a `.json`/`.yaml`/`.yml` file; its values become defaults and the remaining
    flags override them. Unknown keys in the file are an error that names the key and the file. Each instance
    returned has the file's path as `config_file` (None without one). `-h`/`--help` prints the options grouped by
    their field's `metadata["group"]` and `--help-all` those of `TrainingArguments` too (`trainer_common.help`),
    then exits.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _argument_parser(dataclass_types)
    help_flag = next((arg for arg in argv if arg in HELP_FLAGS), None)
    if help_flag:
        print(format_help(parser, dataclass_types, show_all=help_flag == "--help-all"))
        raise SystemExit(0)
    known = {action.dest: action for action in parser._actions}
    unsupported = {**RETIRED_FLAGS}
    for dataclass_type in dataclass_types:
        unsupported.update(getattr(dataclass_type, "unsupported_flags", {}))
    for arg in argv:
        name = flag_name(arg)
        if name in unsupported and name not in known:
            raise InputError(f"{arg.split('=', 1)[0]} is not supported: {unsupported[name]}")
    parser.error = _raise_input_error  # one `error:` line, not argparse's usage text and exit
    config_path = None
    if argv and argv[0].endswith(CONFIG_SUFFIXES) and not argv[0].startswith("-"):
        config_path = argv.pop(0)
        config = _normalized_keys(load_config_file(config_path), config_path)
        nullable = _options_admitting_none(dataclass_types)
        for key in config:
            if key in unsupported and key not in known:
                raise InputError(f"{config_path}: {key} is not supported: {unsupported[key]}")
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise InputError(f"{config_path}: unknown argument(s): {', '.join(unknown)}")
        defaults = {}
        for key, value in config.items():
            action = known[key]
            action.required = False  # the file supplies it
            # Convert through the flag's own type, so "1e-3" in YAML means what --learning_rate 1e-3 means, and
            # 40.5 for an integer is refused as --max_seq_length 40.5 would be.
            if isinstance(value, list | dict) and action.nargs is None:
                raise InputError(f"{config_path}: {key}: expected one value, got {type(value).__name__} {value!r}")
            if isinstance(value, str) and action.nargs in ("+", "*"):
                value = [value]  # one item of a list flag
            if value is None and key not in nullable:
                raise InputError(f"{config_path}: {key}: null is not a value of --{key}; give one or leave it out")
            if value is not None and action.type is not None:
                try:
                    value = (
                        [action.type(str(v)) for v in value] if isinstance(value, list) else action.type(str(value))
                    )
                except (TypeError, ValueError, ArgumentTypeError) as err:
                    raise InputError(f"{config_path}: {key}: {err}") from err
            for item in value if isinstance(value, list) else [value]:
                if action.choices is not None and item is not None and item not in action.choices:
                    choices = ", ".join(str(choice) for choice in action.choices)
                    raise InputError(f"{config_path}: {key}: invalid choice {item!r} (choose from {choices})")
            defaults[key] = value
        parser.set_defaults(**defaults)
    try:
        parsed = parser.parse_args_into_dataclasses(args=argv)
    except InputError:
        raise
    except (ValueError, ImportError) as err:  # a dataclass's own checks (TrainingArguments; --deepspeed without
        _forget_deepspeed_config()  # the package): always a bad argument
        raise InputError(f"bad arguments: {err}") from err
    for arguments in parsed:  # an input of the run, which it must never delete or write over (`Recipe`)
        arguments.config_file = config_path
    return parsed


def _forget_deepspeed_config() -> None:
    """A `--deepspeed` whose set-up failed leaves transformers' process-wide DeepSpeed config registered, half made
    (the error's traceback keeps it alive): every later `from_pretrained` in this process would then fail on it."""
    module = sys.modules.get("transformers.integrations.deepspeed")
    if module is not None:
        module.unset_hf_deepspeed_config()
