# detectron2's Mask R-CNN R50-FPN (ImageNet-style FrozenBN backbone), unchanged.
from detectron2 import model_zoo

model = model_zoo.get_config("common/models/mask_rcnn_fpn.py").model
