"""The pure core: manifests, update descriptors, jumps, plans and path rules. Values in, values out; nothing here touches a disk, a network or a process."""
