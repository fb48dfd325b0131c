"""What a run prints: one compact line per log and per evaluation, and a logging interval fitted to the run.

The Trainer's own console callback prints every log as a dict of strings (`{'eval_loss': '2.029', ...}`), per-type
metrics included; here each training log and each evaluation is one line of the numbers a person reads, and the full
metrics go to the result files (`results.py`) instead.
"""

import math

from transformers.trainer_callback import PrinterCallback, ProgressCallback

POINTS_PER_RUN = 50  # training-loss points in a run's log, when the user does not set --logging_steps
TRAIN_COLUMNS = (("loss", "loss"), ("learning_rate", "lr"), ("grad_norm", "grad norm"))


def number(value, scientific: bool = False) -> str:
    """A metric as a person reads it: 4 decimals in [0, 1], else 4 significant digits, an integer as one;
    `scientific` (a learning rate) always as `1.00e-05`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if scientific or 0 < abs(value) < 1e-3 or abs(value) >= 1e5:
        return f"{value:.2e}"
    if float(value).is_integer() or abs(value) >= 1000:  # 4 significant digits would write 16410 as 1.641e+04
        return str(round(value))
    return f"{value:.4f}" if abs(value) < 1 else f"{value:#.4g}".rstrip(".")


def log_line(logs: dict, state, eval_columns, train_columns=TRAIN_COLUMNS, start_step: int = 0) -> str | None:
    """One line for a log the Trainer makes: training (has `loss`), evaluation (`eval_*`, or another prefix such as
    `test_*`) or the end of training (`train_runtime`). `*_columns` are `(key, label)` pairs, evaluation keys without
    their prefix; absent keys are left out. `start_step`: where training began (a resumed checkpoint's step). None
    for a log with none of them."""
    where = _where(logs, state)
    if "train_runtime" in logs:
        trained = state.global_step - start_step
        if not trained:
            return f"nothing left to train: the checkpoint resumed is step {state.global_step} of {state.max_steps}"
        samples = logs.get("train_samples_per_second")
        speed = f" ({number(samples)} samples/s)" if samples is not None else ""
        return f"trained {trained} steps in {logs['train_runtime']:.1f} s{speed} · mean loss " + number(
            logs.get("train_loss", float("nan"))
        )
    if "loss" in logs:
        return _joined("train", where, logs, "", train_columns)
    prefixes = {key.split("_", 1)[0] for key in logs if key.endswith("_loss") and "_" in key}
    for prefix in sorted(prefixes):
        line = _joined(prefix, where, logs, f"{prefix}_", eval_columns)
        if line:
            return line
    return None


def _where(logs: dict, state) -> str:
    """The step and epoch of a log; nothing after training (`state` None) or in a run that does not train."""
    if state is None or not state.max_steps:
        return ""
    return f"step {state.global_step}/{state.max_steps} · epoch {logs.get('epoch', state.epoch or 0):.2f}"


def _joined(name: str, where: str, logs: dict, prefix: str, columns) -> str | None:
    parts = [f"{label} {number(logs[prefix + key], key == 'learning_rate')}" for key, label in columns
             if prefix + key in logs]  # fmt: skip
    return " · ".join([f"{name:<5} {where}".rstrip(), *parts]) if parts else None


class ConsoleCallback(ProgressCallback):
    """The Trainer's progress bars (none with `--disable_tqdm true`), with `log_line`'s lines in place of its dicts.

    Args:
        eval_columns: `(key, label)` pairs of an evaluation's line, e.g. `(("loss", "loss"), ("f1", "F1"))`.
        train_columns: `(key, label)` pairs of a training log's line.
    """

    def __init__(self, eval_columns, train_columns=TRAIN_COLUMNS):
        super().__init__()
        self.eval_columns, self.train_columns = tuple(eval_columns), tuple(train_columns)
        self.final = False  # set for the evaluations after training: their lines name the split, not the step
        self.start_step = 0

    def on_train_end(self, args, state, control, **kwargs):
        self.final = True
        if self.training_bar is not None:
            super().on_train_end(args, state, control, **kwargs)

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_step = state.global_step  # a resumed run starts at its checkpoint's step
        if not args.disable_tqdm:
            super().on_train_begin(args, state, control, **kwargs)

    def on_step_end(self, args, state, control, **kwargs):
        if self.training_bar is not None:
            super().on_step_end(args, state, control, **kwargs)

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        if not args.disable_tqdm:
            super().on_prediction_step(args, state, control, eval_dataloader=eval_dataloader, **kwargs)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        after_training = self.final and "train_runtime" not in logs  # a final evaluation: "dev", not a step
        if after_training:
            logs = {key.replace("eval_", "dev_", 1): value for key, value in logs.items()}
        line = log_line(logs, None if after_training else state, self.eval_columns, self.train_columns,
                        self.start_step)  # fmt: skip
        if line is None:
            return
        if self.training_bar is not None:
            self.training_bar.write(line)  # above the bar, which stays at the bottom
        else:
            print(line, flush=True)

    def show(self, prefix: str, metrics: dict, state) -> None:
        """Print the line of metrics computed outside `Trainer.log` (keys `{prefix}_*`), as an evaluation's."""
        where = _where(metrics, None if self.final else state)
        line = _joined(prefix, where, metrics, f"{prefix}_", self.eval_columns)
        if line:
            print(line, flush=True)


def use_console(trainer, eval_columns, train_extra=()) -> ConsoleCallback:
    """Replace the Trainer's console callback (`ProgressCallback`, or `PrinterCallback` when tqdm is off) by a
    `ConsoleCallback`; `train_extra` adds `(key, label)` columns to the training lines (a composite loss's parts)."""
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    console = ConsoleCallback(eval_columns, TRAIN_COLUMNS[:1] + tuple(train_extra) + TRAIN_COLUMNS[1:])
    trainer.add_callback(console)
    return console


def planned_steps(trainer) -> tuple[int, int]:
    """`(optimisation steps of the run, steps per epoch)`, as the Trainer will count them, without building a
    dataloader (which could draw randomness)."""
    args = trainer.args
    per_step = args.per_device_train_batch_size * args.world_size
    samples = len(trainer.train_dataset)
    batches = samples // per_step if args.dataloader_drop_last else math.ceil(samples / per_step)
    per_epoch = max(batches // args.gradient_accumulation_steps, 1)
    steps = args.max_steps if args.max_steps > 0 else math.ceil(args.num_train_epochs * per_epoch)
    return steps, per_epoch


def fit_logging_steps(trainer) -> None:
    """Unless the user set `--logging_steps` (`TaskTrainingArguments.logging_steps_given`), log the training loss
    about `POINTS_PER_RUN` times a run, and at least once by the first evaluation, however short the run."""
    args = trainer.args
    if getattr(args, "logging_steps_given", True) or trainer.train_dataset is None:
        return
    steps, per_epoch = planned_steps(trainer)
    first_evaluation = {"steps": args.eval_steps, "epoch": per_epoch}.get(
        str(getattr(args.eval_strategy, "value", args.eval_strategy))
    )
    if first_evaluation is not None and first_evaluation < 1:  # a fraction of the run
        first_evaluation = math.ceil(steps * first_evaluation)
    interval = max(1, math.ceil(steps / POINTS_PER_RUN))
    if first_evaluation:
        interval = min(interval, int(first_evaluation))
    args.logging_steps = interval
