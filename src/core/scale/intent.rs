//! What a scale call asks for, and when the target already has it (pure logic).

/// What a scale call asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Set the desired count; with `at_least`, a larger current count is kept.
    Set {
        /// The desired count.
        replicas: i32,
        /// Keep a larger current count (scale up only).
        at_least: bool,
        /// Refuse unless the current count is this one (kubectl's `--current-replicas`).
        if_current: Option<i32>,
    },
    /// Remember the current count (the `kubescale.io/previous-replicas` annotation), then go to 0.
    ToZero,
    /// Come back from zero: a target at 0 goes to the remembered count (when `restore`), at
    /// least `min`; a running target is only raised to `min`, never lowered, and never pushed
    /// back to the remembered count (once up, its count belongs to KEDA, an HPA or people).
    FromZero {
        /// The least count.
        min: i32,
        /// Use the remembered count when the target is at 0.
        restore: bool,
    },
}

impl Intent {
    /// The count asked for when nothing is remembered: `replicas`, 0 or `min`.
    pub fn nominal(self) -> i32 {
        match self {
            Intent::Set { replicas, .. } => replicas,
            Intent::ToZero => 0,
            Intent::FromZero { min, .. } => min,
        }
    }

    /// Whether the desired count depends on the remembered one when the target is at `current`.
    pub fn restores_at(self, current: i32) -> bool {
        matches!(self, Intent::FromZero { restore: true, .. }) && current == 0
    }

    /// The count to write over `current`, given the `remembered` count (read only when
    /// [`restores_at`](Self::restores_at) says so).
    pub fn desired(self, current: i32, remembered: Option<i32>) -> i32 {
        match self {
            Intent::FromZero { min, .. } if self.restores_at(current) => min.max(remembered.unwrap_or(0)),
            other => other.nominal(),
        }
    }

    /// The count the target must have for the call to go on, if the caller gave one.
    pub fn required(self) -> Option<i32> {
        match self {
            Intent::Set { if_current, .. } => if_current,
            _ => None,
        }
    }

    /// Whether a larger current count is kept.
    pub fn keeps_larger(self) -> bool {
        matches!(self, Intent::Set { at_least: true, .. } | Intent::FromZero { .. })
    }

    /// Whether the current count is remembered before the write.
    pub fn remembers(self) -> bool {
        matches!(self, Intent::ToZero)
    }

    /// Why no write is needed to go from `current` to `desired`, or `None` when one is.
    pub fn satisfied(self, current: i32, desired: i32) -> Option<String> {
        if current == desired {
            Some(format!("already at {desired} replicas"))
        } else if self.keeps_larger() && current > desired {
            Some(format!("kept {current} replicas: more than the {desired} asked for"))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_writes_any_other_count() {
        let i = Intent::Set { replicas: 3, at_least: false, if_current: None };
        assert_eq!(i.desired(5, Some(9)), 3);
        assert_eq!(i.satisfied(5, 3), None);
        assert!(i.satisfied(3, 3).is_some());
        let up = Intent::Set { replicas: 3, at_least: true, if_current: None };
        assert!(up.satisfied(5, 3).is_some(), "at_least keeps a larger count");
        assert_eq!(up.satisfied(1, 3), None);
    }

    #[test]
    fn from_zero_restores_only_at_zero() {
        let i = Intent::FromZero { min: 1, restore: true };
        assert!(i.restores_at(0));
        assert_eq!(i.desired(0, Some(10)), 10);
        assert_eq!(i.desired(0, None), 1);
        assert_eq!(i.desired(0, Some(0)), 1);
        // Running at 3 (someone scaled it down from the restored 10): left alone.
        assert!(!i.restores_at(3));
        assert_eq!(i.desired(3, Some(10)), 1);
        assert!(i.satisfied(3, 1).is_some());
        // Below the minimum: raised to it.
        let min2 = Intent::FromZero { min: 2, restore: true };
        assert_eq!(min2.satisfied(1, min2.desired(1, Some(10))), None);
        assert_eq!(min2.desired(1, Some(10)), 2);
        let plain = Intent::FromZero { min: 2, restore: false };
        assert!(!plain.restores_at(0));
        assert_eq!(plain.desired(0, Some(10)), 2);
    }

    #[test]
    fn to_zero_remembers() {
        assert!(Intent::ToZero.remembers());
        assert_eq!(Intent::ToZero.desired(4, None), 0);
        assert!(Intent::ToZero.satisfied(0, 0).is_some());
        assert!(!Intent::Set { replicas: 0, at_least: false, if_current: None }.remembers());
    }
}
