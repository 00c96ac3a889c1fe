import torch


def reference_images(size):
    """Two fixed synthetic 'portraits' (same formula in the scratch script that made tiny_reference.npz)."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing='ij')
    imgs = []
    for k, (cx, cy) in enumerate([(0.0, 0.0), (0.08, -0.05)]):
        face = ((x - cx) ** 2 / 0.35 + (y - cy) ** 2 / 0.55 < 1).float()
        mouth = (((x - cx) ** 2 / 0.04 + (y - cy - 0.35) ** 2 / (0.004 + 0.01 * k)) < 1).float()
        r = 0.3 + 0.5 * face - 0.3 * mouth + 0.1 * torch.sin(6 * x)
        g = 0.25 + 0.4 * face - 0.2 * mouth + 0.1 * torch.cos(5 * y)
        b = 0.4 + 0.2 * face + 0.1 * torch.sin(3 * (x + y))
        imgs.append(torch.stack([r, g, b])[None].clamp(0, 1))
    return imgs




def reference_masks(size):
    """Matte and face mask [1,1,S,S] for the refiner parity (same formula in the scratch script that made
    refiner_reference.npz): a soft head ellipse, and its product with a smaller face ellipse."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing='ij')
    matte = torch.sigmoid(8 * (1 - x ** 2 / 0.6 - (y - 0.1) ** 2 / 0.8))
    face = (x ** 2 / 0.3 + y ** 2 / 0.5 < 1).float()
    return matte[None, None], (matte * face)[None, None]
