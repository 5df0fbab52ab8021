"""The parameter library (参数库): named, dated, cited values that rules read by name.

``rules/parameters/library/`` holds one YAML file per parameter (:mod:`._read` documents the
format); a rule reads ``parameters.dibao_standard`` or ``参数.低保标准``, a scale
``parameters.elderly_allowance[age]``; the value is the one in force on the match's as-of date,
from the library in place (:func:`active`; a reform puts another in place with :func:`using`).
"""

from rules.parameters._active import LIBRARY_DIR, active, builtin_library, using
from rules.parameters._library import Library, NotInForceError, UnknownParameterError
from rules.parameters._model import KINDS, UNITS, Bracket, Citation, Parameter, Version
from rules.parameters._read import ParameterFileError, parameter_files, read_library
from rules.parameters._rules import (
    PREFIX,
    REFERENCE,
    bracket_amount,
    bracket_expr,
    is_parameter,
    parameter_interval,
    parameter_named,
    parameter_symbol,
    parameter_values,
    parameters_read,
    unknown_parameters,
)

__all__ = [
    "KINDS",
    "LIBRARY_DIR",
    "PREFIX",
    "REFERENCE",
    "UNITS",
    "Bracket",
    "Citation",
    "Library",
    "NotInForceError",
    "Parameter",
    "ParameterFileError",
    "UnknownParameterError",
    "Version",
    "active",
    "bracket_amount",
    "bracket_expr",
    "builtin_library",
    "is_parameter",
    "parameter_files",
    "parameter_interval",
    "parameter_named",
    "parameter_symbol",
    "parameter_values",
    "parameters_read",
    "read_library",
    "unknown_parameters",
    "using",
]
