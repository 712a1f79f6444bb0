from . import novaos
