return { on_data = "not a function" }
