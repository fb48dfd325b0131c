"""Stop training cleanly on Ctrl-C or SIGTERM: finish the current step, save a complete checkpoint, then stop; after
training, stop at once, before the run's results mark the folder finished.

Without it, a signal during a save leaves a half-written `checkpoint-N` and a traceback. A second Ctrl-C aborts at
once (the last complete checkpoint still resumes: `--resume_from_checkpoint true` skips incomplete ones).
"""

import logging
import signal
import threading
from contextlib import contextmanager

from transformers import TrainerCallback

from .errors import Interrupted

logger = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal(TrainerCallback):
    """While installed, a signal only sets `received`; at the next step end the Trainer stops, saves a checkpoint
    of that step and returns. Resuming from it gives the model an uninterrupted run would have given."""

    def __init__(self):
        self.received: str | None = None
        self.at_once: str | None = None  # once training is over: a signal stops the run at once, with this message

    def stop_at_once(self, message: str) -> None:
        """From now on (the final evaluation, the result files), a signal raises `Interrupted(message)` at once:
        there is no checkpoint to finish, and the folder must not be made to look finished."""
        self.at_once = message

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():  # handlers can only be set there
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

        def handle(signum, frame):
            if self.at_once:
                raise Interrupted(f"{signal.Signals(signum).name}: {self.at_once}")
            if self.received and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.received = signal.Signals(signum).name
            logger.warning("%s: stopping after this step, once its checkpoint is saved (Ctrl-C again to abort)",
                           self.received)  # fmt: skip

        for sig in SIGNALS:
            signal.signal(sig, handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def on_step_end(self, args, state, control, **kwargs):
        if self.received:
            control.should_training_stop = True  # the Trainer then ends the epoch here: `on_epoch_end`
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.received:
            control.should_save = True
            # Cut mid-epoch: no epoch-end evaluation, whose random draws a resumed run would not make. A stop on the
            # epoch's last step keeps its evaluation, before the save, as an uninterrupted run has it.
            if not float(state.epoch).is_integer():
                control.should_evaluate = False
        return control
