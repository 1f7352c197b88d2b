"""Training code for DeCLIP. Never imported by inference code (declip_core.inference, pyiqa_plugin, comfyui_nodes)."""
