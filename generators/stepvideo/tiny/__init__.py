"""The tiny Step-Video-TI2V preset trained on stepeval's synthetic world (see train.py)."""
