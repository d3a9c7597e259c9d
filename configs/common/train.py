# Training options read by tools/train_net.py: detectron2's defaults plus
#   device       "cuda"; train_net moves to "cpu" when no GPU is present
#   stop_iter    stop at this iteration on a schedule that spans max_iter (stage 1 of stage-wise training)
#   resume_from  a checkpoint of another run to resume model, optimizer, LR schedule and iteration from
#   seed         detectron2's training seed (default_setup seeds python, numpy and torch with seed + rank);
#                negative: one is drawn when the run starts; either way it is recorded in run_info.json
#   allow_pickle_checkpoints  load .pkl checkpoints (detectron2 unpickles them: any code in them runs);
#                off by default, set it only for files whose source you trust (e.g. detectron2's model zoo)
from detectron2 import model_zoo

train = model_zoo.get_config("common/train.py").train
train.stop_iter = None
train.resume_from = ""
train.allow_pickle_checkpoints = False
train.seed = -1
