package org.aoemp.testing;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.junit.jupiter.api.Tag;

/**
 * Marks a test class or method that needs more than the JVM: root, network namespaces, veth pairs,
 * vblade, a qemu VM, libnbd's or nbdkit's clients, fio, python3, or another process of its own
 * ({@link Prerequisites} gates each of these). It carries the JUnit tag {@value #TAG}, so
 * {@code .ci/test -Punit} (surefire's {@code excludedGroups=real-peer}) runs the unit tests alone;
 * {@code .ci/test} runs everything.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Tag(RealPeer.TAG)
public @interface RealPeer
{
    /** The JUnit tag; the parent pom's {@code unit} profile excludes it. */
    String TAG = "real-peer";
}
