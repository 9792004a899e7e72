NAME = "pp_two"
