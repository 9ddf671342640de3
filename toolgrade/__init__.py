"""The composition root: the one package allowed to import every part of ToolGrade.

``toolgrade.cli`` assembles the ``toolgrade`` command line from the serving layer's commands
(``service.commands``), the training jobs (``training.commands``) and the evaluation client
(``clients.evaluation.command``). Every other package points inward, towards ``service.core``;
``tests/test_layering.py`` checks each allowed arrow.
"""
