"""The paper's reported numbers (method.md §6), printed beside ours."""

TABLE1_ABS_ERROR = {
    "vhp_rewo": 0.054,
    "vhp_geco": 0.53,
    "vhp": 0.49,
    "vhp_wu20": 0.20,
    "vhp_wu200": 0.31,
}
