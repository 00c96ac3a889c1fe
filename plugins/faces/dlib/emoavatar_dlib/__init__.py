"""dlib face analysis (detection, 68 landmarks, 128-d identity embedding) for emoavatar."""
