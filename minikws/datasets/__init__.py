"""Data sets: the built-in synthesized speech commands and loaders for recordings on disk.

Every function returns a :class:`Dataset`: clips (float32 waveforms), integer labels, class names,
sample rate, speakers and a train/validation/test split.

    synthesize_commands   espeak-ng speech commands, split by voice      (minikws.datasets.synth)
    load_speech_commands  Google Speech Commands layout with its lists   (minikws.datasets.loaders)
    load_folders          a folder per label, split by hashing names
    load_fsdd             Free Spoken Digit Dataset, official split
    load_dataset          detects which of the three layouts a folder has
    save_speech_commands  writes a Dataset in Speech Commands' layout
    synthesize_fsdd       writes synthesized spoken digits in FSDD's layout (a stand-in for FSDD)
    pad_batch             variable-length clips -> (B, S) array + lengths
    synthesize_streams    continuous espeak-ng speech with word boundaries (minikws.datasets.streams)
    load_stream_folder    the user's long recordings, FILE.wav beside FILE.txt
"""
from minikws.datasets.core import SUBSETS, Dataset, pad_batch
from minikws.datasets.loaders import (KINDS, detect_layout, load_dataset, load_folders, load_fsdd,
                                      load_speech_commands, save_speech_commands, synthesize_fsdd,
                                      trim_to_word, which_set)
from minikws.datasets.synth import KEYWORDS, SILENCE, UNKNOWN, UNKNOWN_WORDS, synthesize_commands
from minikws.datasets.streams import (FILLERS, PLACEMENTS, TEST_FILLERS, TAG_SETS, StreamSet, Word, frame_targets,
                                      load_stream_folder, read_labels, synthesize_streams, tag_names,
                                      word_tags, write_labels)

__all__ = ["Dataset", "SUBSETS", "pad_batch", "synthesize_commands", "KEYWORDS", "UNKNOWN_WORDS",
           "UNKNOWN", "SILENCE", "load_speech_commands", "load_folders", "load_fsdd", "load_dataset",
           "detect_layout", "save_speech_commands", "synthesize_fsdd", "trim_to_word", "which_set", "KINDS", "synthesize_streams",
           "load_stream_folder", "StreamSet", "Word", "FILLERS", "TEST_FILLERS", "TAG_SETS", "PLACEMENTS", "tag_names",
           "word_tags", "frame_targets", "read_labels", "write_labels"]
