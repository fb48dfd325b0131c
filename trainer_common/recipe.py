"""One training run, step by step, for every task: each task fills in its own steps.

parse -> set up logging and tracking -> load data -> build model -> build trainer -> train -> evaluate -> save
results and figures -> model card (and push).
"""

import logging

from .errors import InputError

logger = logging.getLogger(__name__)


class Recipe:
    """The skeleton of `run_*.py`'s training command. Subclasses implement the steps marked below.

    Args:
        args: the task's own arguments dataclass (with a `wandb_project` field).
        training_args: a `TaskTrainingArguments` subclass.
        callbacks: extra `TrainerCallback`s.
    """

    package: str = ""  # logger namespace of the task package, configured like transformers' own
    task: str = ""  # the task's key in `run_files.TASK_OUTPUT_NAMES`
    # options naming files or folders the run reads, which it must never delete or write over
    input_options = ("model_name_or_path", "config_name", "tokenizer_name", "cache_dir", "data_dir", "dataset_name",
                     "train_file", "validation_file", "test_file")  # fmt: skip
    # config fields a checkpoint to resume from must share with the run's model (`check_resume`)
    resume_fields: tuple[str, ...] = ()
    # `(metric, label)` columns of the console's line for an evaluation (`console.log_line`), and extra columns of a
    # training line (a composite loss's parts)
    eval_columns: tuple[tuple[str, str], ...] = (("loss", "loss"),)
    train_columns: tuple[tuple[str, str], ...] = ()

    def __init__(self, args, training_args, callbacks: list | None = None):
        self.args, self.training_args, self.callbacks = args, training_args, callbacks
        self.trainer = None

    # --- the task's steps ---------------------------------------------------------------------------------------
    def load_data(self) -> None:
        raise NotImplementedError

    def build_model(self):
        raise NotImplementedError

    def build_trainer(self, model):
        raise NotImplementedError

    def evaluate(self) -> dict:
        """Final evaluation and predictions after training; returns metrics for `all_results.json`."""
        return {}

    def write_figures(self) -> dict[str, str]:
        """Figures to write (main process only); returns `{name: png path}` for W&B."""
        return {}

    def prediction_tables(self) -> dict[str, tuple[list[str], list[list]]]:
        """Tables of sample predictions for W&B: `{name: (columns, rows)}`."""
        return {}

    def summary(self, results: dict) -> str:
        """What the console shows at the end of the run (the full metrics are in the result files)."""
        return ""

    def card_info(self, results: dict):
        """The model card's `model_card.CardInfo`, from the run's results."""
        raise NotImplementedError

    def check_resume(self, model, checkpoint: str) -> None:
        """Refuse (`InputError`) a `checkpoint` to resume from that was not written by a run of this `model`'s
        configuration. Called after `build_model`, before training. Compares `model_type`, the fields the task
        lists in `resume_fields` (the ones that shape the weights or what they learn) and the weights' names and
        shapes (`resume.check_checkpoint`)."""
        from .resume import check_checkpoint

        check_checkpoint(model, checkpoint, self.resume_fields, self.training_args.max_steps)

    @property
    def trains(self) -> bool:
        return bool(self.training_args.do_train)

    def without_validation(self) -> None:
        """No validation data: no evaluation during training (the default eval_strategy "epoch" would make the
        Trainer refuse to start without an eval_dataset), and the last weights are the model saved."""
        from transformers import IntervalStrategy

        training_args = self.training_args
        if training_args.eval_strategy == IntervalStrategy.NO:
            return
        if training_args.early_stopping_patience is not None:
            raise InputError("--early_stopping_patience needs validation data")
        if self.trains:
            logger.info("no validation data: no evaluation during training, the last weights are saved")
        training_args.eval_strategy = IntervalStrategy.NO
        training_args.load_best_model_at_end = False

    # --- the run ------------------------------------------------------------------------------------------------
    def check_output_folder(self) -> tuple[str | None, dict | None]:
        """Check `output_dir` before anything is read or written (every process decides alike). Returns the
        checkpoint to resume from, and the saved results of a run whose model is evaluated in place (else None)."""
        from .output_dir import check_evaluation_dir, check_output_dir, read_results

        training_args = self.training_args
        inputs = {name: getattr(self.args, name, None) for name in self.input_options}
        inputs["config file"] = getattr(self.args, "config_file", None)  # set by `args.parse_args`
        if training_args.do_train:
            return check_output_dir(training_args, inputs), None
        if check_evaluation_dir(training_args, inputs):  # re-evaluating the model saved in output_dir
            return None, read_results(training_args.output_dir)  # now: a bad file fails before evaluating
        return None, None

    def set_aside_previous_run(self) -> bool:
        """Move the run that `--overwrite_output_dir` replaces into `.previous_run/` (`run_files`): once the data
        and the model have loaded and the trainer is built. Returns whether there was one."""
        from .run_files import run_markers, set_aside_previous_run

        training_args = self.training_args
        found = bool(run_markers(training_args.output_dir))
        with training_args.main_process_first(local=False, desc="setting the previous run aside"):
            if training_args.process_index == 0 and found:
                set_aside_previous_run(training_args.output_dir)
        return found

    def run(self) -> dict:
        from transformers import set_seed

        from .console import use_console
        from .errors import Interrupted
        from .hub_push import push_output_dir
        from .interrupt import StopOnSignal
        from .run_files import discard_previous_run, put_back_previous_run, recording_callback
        from .tracking import setup_logging, setup_wandb

        training_args = self.training_args
        setup_logging(self.training_args, self.package)
        resume, saved = self.check_output_folder()
        setup_wandb(self.training_args, self.args.wandb_project)
        set_seed(self.training_args.seed)
        # One process per node downloads and reads first; the others then find the Hub cache filled.
        with training_args.main_process_first(desc="loading the data and the model"):
            self.load_data()
            model = self.build_model()
        if resume and self.trains:
            self.check_resume(model, resume)
        self.trainer = trainer = self.build_trainer(model)
        trainer.add_callback(recording_callback())  # the manifest, at every checkpoint
        self.console = use_console(trainer, self.eval_columns, self.train_columns)
        if training_args.early_stopping_patience is not None:
            from transformers import EarlyStoppingCallback

            trainer.add_callback(EarlyStoppingCallback(training_args.early_stopping_patience))

        replacing = training_args.overwrite_output_dir and self.set_aside_previous_run()
        main = trainer.is_world_process_zero()
        stop = StopOnSignal()
        try:
            with stop.installed():  # to the end of the run: a folder looks finished only once it is
                results = self.train_and_evaluate(resume, stop)
                if main:
                    self.write_outputs(results, saved)
        except Interrupted:
            raise  # its checkpoint resumes; a replaced run stays set aside until this one finishes
        except Exception:
            if replacing and main:  # a bad input found late (first step, first evaluation): the old run is back
                put_back_previous_run(training_args.output_dir)
            raise
        if main:
            discard_previous_run(training_args.output_dir)
            if training_args.push_to_hub:
                push_output_dir(trainer)
            self.show_summary(results)
        return results

    def train_and_evaluate(self, resume: str | None, stop) -> dict:
        """Train (when the run trains) and save the model, then the final evaluation; returns the run's metrics.
        `stop` (an installed `StopOnSignal`) ends training at a checkpoint, and the rest of the run at once."""
        from .console import fit_logging_steps
        from .errors import Interrupted
        from .precision import log_bf16_hint
        from .run_files import record_run
        from .tracking import log_run_size

        trainer, training_args, results = self.trainer, self.training_args, {}
        if self.trains:
            fit_logging_steps(trainer)
            log_run_size(trainer)
            log_bf16_hint(trainer.model, training_args)  # measured, once: no precision is switched silently
            trainer.add_callback(stop)
            train_result = trainer.train(resume_from_checkpoint=resume)
            if stop.received:  # a checkpoint of the last step is saved; the run is not finished, so no model
                raise Interrupted(
                    f"{stop.received} at step {trainer.state.global_step}: checkpoint saved in "
                    f"{training_args.output_dir}; continue with --resume_from_checkpoint true"
                )
            trainer.save_model()  # model, its code for trust_remote_code, and the tokenizer
            trainer.save_state()
            # a resumed last step trains nothing: no loss, no speed (the console saw where training began)
            if trainer.state.global_step != self.console.start_step:
                results.update(train_result.metrics)
        out = training_args.output_dir
        if trainer.is_world_process_zero():  # a kill while writing leaves files the next run must know as its own
            record_run(out, planned=self.output_names())
        if self.trains:
            message = f"the run did not finish: its trained model is saved in {out} but no results were written; "
            message += "finish it with --resume_from_checkpoint true"
        else:
            message = "the evaluation did not finish: no results were written; run it again"
        stop.stop_at_once(message)
        self.console.final = True  # the evaluations now name their split, not a step
        results.update(self.evaluate())
        return results

    def output_names(self) -> list[str]:
        """What the run may write after training: the task's outputs, the result files and the card."""
        from .results import RESULT_FILES
        from .run_files import TASK_OUTPUT_NAMES

        return [*TASK_OUTPUT_NAMES[self.task], *RESULT_FILES, "all_results.json", "README.md"]

    def write_outputs(self, results: dict, saved: dict | None) -> None:
        """On the main process: figures, W&B results, the model card (of a trained model), the result files
        (merged into the `saved` results of a model re-evaluated in place), with `all_results.json` last, as it
        marks a finished run; then checkpoints the final model makes redundant go, and the manifest is written."""
        from .model_card import write_card
        from .output_dir import merged_results, remove_redundant_checkpoints
        from .results import write_results
        from .run_files import record_run
        from .tracking import log_results

        trainer, training_args = self.trainer, self.training_args
        in_place = saved is not None  # re-evaluated: the run's training metrics, figures and model card stay
        merged = merged_results(saved, results) if in_place else results
        figures = {} if in_place else self.write_figures()
        log_results(trainer, self.args, results, figures, self.prediction_tables())
        if self.trains or (in_place and training_args.push_to_hub):  # no card where no model was trained
            write_card(self.card_info(results), training_args)
        write_results(training_args.output_dir, merged, training_args.seed)
        if self.trains and not training_args.keep_checkpoints:
            remove_redundant_checkpoints(training_args.output_dir)
        record_run(training_args.output_dir)

    def show_summary(self, results: dict) -> None:
        """The task's end-of-run summary, and where the outputs are (main process)."""
        from pathlib import Path

        text = self.summary(results)
        if text:
            print(text.rstrip("\n"), flush=True)
        print(f"outputs in {Path(self.training_args.output_dir).resolve()} (metrics: all_results.json)", flush=True)
